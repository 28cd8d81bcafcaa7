// The part of aziot-edged's config this build serves: where the management API listens, the
// container engine, the agent's container name, and request limits.
#pragma once
#include <string>

#include "common/result.h"
#include "edged/workload_config.h"

namespace edged {

struct Config {
  std::string homedir = "/var/lib/aziot/edged";
  std::string listen_management_uri = "fd://aziot-edged.mgmt.socket";
  std::string moby_uri = "unix:///var/run/docker.sock";
  std::string agent_name = "edgeAgent";
  size_t max_management_requests = 50;

  // --- workload API and Edge CA (branch workload) ---
  WorkloadSettings workload;
  // --- end workload ---
};

// AZIOT_EDGED_CONFIG (default /etc/aziot/edged/config.toml) + AZIOT_EDGED_CONFIG_DIR
// (default /etc/aziot/edged/config.d). Keys this build does not use yet are accepted.
edge::Result<Config> load_config();

}  // namespace edged
