// Prepares a state directory for one emulator run: CA (kept), server certificate (re-issued for
// the current names), plugin settings and mosquitto.conf.
#pragma once
#include <string>

#include "common/result.h"
#include "emulator/settings.h"

namespace emulator {

struct LaunchOptions {
  Settings settings;
  std::string plugin_path;
  bool websockets = true;  // needs a mosquitto built with libwebsockets
};

edge::Status prepare_state_dir(LaunchOptions& options);
std::string mosquitto_config(const LaunchOptions& options, bool run_as_root);
// A currently free TCP port on 127.0.0.1.
int free_loopback_port();
// True when this mosquitto binary links libwebsockets.
bool mosquitto_has_websockets(const std::string& mosquitto_path);

}  // namespace emulator
