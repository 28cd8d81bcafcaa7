// Gives memory back once keyd has gone quiet after a burst of requests: the heap pages that the
// burst's per-connection buffers freed stay with glibc's malloc until malloc_trim returns them.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace keyd {

class IdleRelease {
 public:
  explicit IdleRelease(std::chrono::milliseconds quiet);
  ~IdleRelease();
  // Call when a request starts and when it ends.
  void activity() { activity_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void loop();

  std::chrono::milliseconds quiet_;
  std::atomic<uint64_t> activity_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace keyd
