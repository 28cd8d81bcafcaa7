// Polls the config file and its config.d for changes (upstream watches them with a 10 s
// debounce) and hands a successfully parsed new configuration to a callback.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/config.h"
#include "identityd/config.h"

namespace identityd {

class ConfigWatcher {
 public:
  ConfigWatcher(edge::config::Paths paths, std::function<void(Config)> on_change,
                std::chrono::milliseconds period = std::chrono::milliseconds(2000));
  ~ConfigWatcher();

 private:
  void run();
  edge::config::Paths paths_;
  std::function<void(Config)> on_change_;
  std::chrono::milliseconds period_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// What changes when the config changes: names, sizes and mtimes of the file and the drop-ins.
std::string config_signature(const edge::config::Paths& paths);

}  // namespace identityd
