// The `$edgeAgent` reported properties as upstream's IoTHubReporter builds them (notes §3):
// schema 1.0, version, lastDesiredVersion/Status, runtime, systemModules, modules with their
// runtime state. Collected from edged's module list plus the agent's own bookkeeping.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/manifest.h"
#include "agent/planner.h"
#include "common/http/client.h"

namespace agent::upstream {

struct ModuleReport {
  std::string name;
  std::optional<Module> config;  // its deployment entry (applied, else desired)
  std::string runtime_status = "unknown";
  long long exit_code = 0;
  std::string status_description;
  std::string last_start_time, last_exit_time, last_restart_time;  // RFC 3339 UTC
  int restart_count = 0;
  std::string image, image_hash;
};

struct Platform {
  std::string os = "linux", architecture, version;
};

struct DeploymentStatus {
  int code = 406;  // upstream's initial "Unknown"
  std::string description;
  bool operator==(const DeploymentStatus&) const = default;
};

constexpr char kMinTime[] = "0001-01-01T00:00:00Z";
constexpr size_t kCreateOptionsChunk = 512;

// `runtime_settings`: the desired runtime.settings (minDockerVersion, loggingOptions, registry
// credentials; passwords are never reported).
Json build_reported(const std::vector<ModuleReport>& modules, const Platform& platform,
                    const Json& runtime_settings, long long last_desired_version,
                    const DeploymentStatus& status);
// createOptions split into createOptions, createOptions01, ... of 512 characters.
Json chunk_create_options(const Json& create_options);

// edged's GET /modules joined with the agent's bookkeeping (`current`, from the runner) and the
// deployment; runtime status follows the restart policy as the planner computes it.
edge::Result<std::vector<ModuleReport>> collect_modules(
    edge::http::UnixClient& mgmt, const std::map<std::string, Current>& current,
    const Deployment* deployment, const RestartSettings& restart);
edge::Result<Platform> system_platform(edge::http::UnixClient& mgmt);

}  // namespace agent::upstream
