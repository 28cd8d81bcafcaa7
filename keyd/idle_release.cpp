#include "keyd/idle_release.h"

#include <malloc.h>
#include <signal.h>

namespace keyd {

IdleRelease::IdleRelease(std::chrono::milliseconds quiet)
    : quiet_(quiet), thread_([this] { loop(); }) {}

IdleRelease::~IdleRelease() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void IdleRelease::loop() {
  // Signals are for the thread main() sets up (this one starts before it blocks them).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  // Looks every quarter of `quiet`, so the release comes between 1 and 1.25 quiet periods
  // after the last request.
  constexpr int kTicks = 4;
  uint64_t seen = 0, released = 0;
  int quiet_ticks = 0;
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, quiet_ / kTicks, [this] { return stop_; })) {
    uint64_t now = activity_.load(std::memory_order_relaxed);
    if (now != seen) {
      seen = now;
      quiet_ticks = 0;
      continue;
    }
    if (now == released || ++quiet_ticks < kTicks) continue;
    released = now;
    ::malloc_trim(0);
  }
}

}  // namespace keyd
