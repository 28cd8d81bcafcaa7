// Keeps the edge agent's container running, as upstream's watchdog: every period, inspect it;
// running is fine, stopped/failed is started, dead/unknown is removed and re-created, missing
// is created (pulled first with imagePullPolicy on-create) and started.
#pragma once
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "edged/config.h"
#include "edged/device_info.h"
#include "edged/docker.h"
#include "edged/image_gc.h"
#include "edged/management.h"
#include "edged/stop_signal.h"

namespace edged {

constexpr std::chrono::seconds kWatchdogPeriod{60};

struct WatchdogOptions {
  Config config;  // with $upstream already resolved
  DeviceInfo device;
  std::string homedir;  // canonical
  IdentityClient* identity = nullptr;
  ImageUse* image_use = nullptr;
  // Runs before the agent's container starts (the workload API puts its socket in place).
  std::function<edge::Status(const std::string& module)> before_start;
};

class Watchdog {
 public:
  Watchdog(docker::Client& docker, WatchdogOptions options)
      : docker_(docker), options_(std::move(options)) {}
  // One check; returns what it did ("running", "started", "created", "recreated").
  edge::Result<std::string> check();
  // check() now and every `period` until `stop`; fails once errors exceed
  // [watchdog] max_retries.
  edge::Status run(StopSignal& stop, std::chrono::milliseconds period);
  edge::Status create_and_start();
  // Upstream's EdgeCaRenewal action: when the agent runs, every module is stopped, then started
  // again with the agent last, so each asks for new server certificates. Serialized with the
  // periodic check so the watchdog never starts the agent early.
  edge::Status restart_after_renewal(Management& mgmt);

 private:
  std::string generation_id();
  docker::Client& docker_;
  WatchdogOptions options_;
  std::mutex mutex_;  // one check or renewal restart at a time
};

}  // namespace edged
