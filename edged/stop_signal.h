// A stop flag threads can sleep on: set once (SIGTERM), wakes every waiter at once.
#pragma once
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace edged {

class StopSignal {
 public:
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    cv_.notify_all();
  }
  bool stopped() {
    std::lock_guard lock(mutex_);
    return stopped_;
  }
  // Sleeps up to `d`; true when stopped (now or meanwhile).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, d, [this] { return stopped_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace edged
