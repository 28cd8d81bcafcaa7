// Notices edits of the config file and its drop-in directory (polling their names, sizes and
// mtimes) and calls back once they have been quiet for a while, as upstream's 10 s debounce.
#pragma once
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/config.h"

namespace certd {

constexpr std::chrono::seconds kConfigReloadDebounce{10};

class ConfigWatcher {
 public:
  ConfigWatcher(edge::config::Paths paths, std::chrono::milliseconds debounce,
                std::function<void()> on_change);
  ~ConfigWatcher();  // stops and joins the polling thread
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

 private:
  std::string fingerprint() const;
  void run();

  edge::config::Paths paths_;
  std::chrono::milliseconds debounce_;
  std::function<void()> on_change_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace certd
