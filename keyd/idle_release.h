// Gives memory back once keyd has gone quiet after a burst of requests: the code pages the
// burst left resident (edge::memory::release_file_pages) and free heap pages (malloc_trim).
// The next request faults back in what it needs (minor faults, from the page cache).
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
