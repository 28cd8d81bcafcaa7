// aziot-edged's config as `iotedge config apply` writes it (config.d/00-super.toml) on top of
// the packaged config.toml. Keys upstream requires get the packaged defaults when absent;
// unknown keys are ignored (as upstream's serde); wrong values name their file, line and key.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/duration.h"
#include "common/result.h"
#include "edged/workload_config.h"
#include "edged/docker.h"
#include "edged/module.h"

namespace edged {

// [agent]: the edge agent container edged keeps running.
struct AgentConfig {
  std::string name = "edgeAgent";
  std::string type = "docker";
  PullPolicy pull_policy = PullPolicy::OnCreate;
  std::string image = "mcr.microsoft.com/azureiotedge-agent:1.6";
  Json create_options = Json::object();      // [agent.config.createOptions], Docker-cased keys
  std::optional<docker::RegistryAuth> auth;  // [agent.config.auth]; an empty table is none
  std::vector<std::pair<std::string, std::string>> env;  // [agent.env], sorted by key
};

struct IpamConfig {
  std::optional<std::string> gateway, subnet, ip_range;
};

// [moby_runtime] network: a name, or a table with ipv6 and IPAM pools.
struct NetworkConfig {
  std::string name = "azure-iot-edge";
  bool ipv6 = false;
  std::vector<IpamConfig> ipam;
};

// [image_garbage_collection]; durations in seconds, cleanup_time in minutes after midnight.
struct ImageGcConfig {
  bool enabled = true;
  int64_t cleanup_recurrence = 86400;
  int64_t image_age_cleanup_threshold = 7 * 86400;
  int cleanup_time = 0;
};

struct Config {
  std::string hostname;  // default: this machine's host name
  std::string homedir = "/var/lib/aziot/edged";
  std::string auto_reprovisioning_mode = "Dynamic";  // Dynamic | AlwaysOnStartup | OnErrorOnly
  bool allow_elevated_docker_permissions = true;
  std::string listen_management_uri = "fd://aziot-edged.mgmt.socket";
  std::string listen_workload_uri = "fd://aziot-edged.workload.socket";
  std::string connect_management_uri = "unix:///var/run/iotedge/mgmt.sock";
  std::string connect_workload_uri = "unix:///var/run/iotedge/workload.sock";
  std::string moby_uri = "unix:///var/run/docker.sock";
  NetworkConfig network;
  AgentConfig agent;
  std::string agent_name = "edgeAgent";  // = agent.name (kept for the management API's callers)
  std::optional<uint32_t> watchdog_max_retries;  // none = "infinite"
  ImageGcConfig image_gc;
  std::string identityd_uri = "unix:///run/aziot/identityd.sock";  // [endpoints] aziot_identityd
  size_t max_management_requests = 50;

  // --- workload API and Edge CA ---
  WorkloadSettings workload;
  // --- end workload ---
  size_t max_workload_requests = 10;

  std::string moby_socket() const { return moby_uri.substr(7); }
};

// AZIOT_EDGED_CONFIG (default /etc/aziot/edged/config.toml) + AZIOT_EDGED_CONFIG_DIR
// (default /etc/aziot/edged/config.d).
edge::Result<Config> load_config();
// The same from already merged TOML (tests, and load_config).
edge::Result<Config> parse_config(const toml::table& table);

// humantime durations as upstream writes them: "1d", "7days", "12h 30m", "90s".
using edge::parse_duration;

}  // namespace edged
