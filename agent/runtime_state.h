// What the agent knows about each module and about the deployment, for the reported
// properties (`$edgeAgent` twin, notes §3) and the logs. Plain data, copied out under a lock.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace agent {

struct ModuleRuntimeState {
  std::string name;
  // running | stopped | failed | backoff | dead | unknown: edged's status passed through the
  // restart policy (a crashed module waiting for its cool-off is "backoff").
  std::string runtime_status = "unknown";
  int exit_code = 0;
  std::string status_description;
  std::string last_start_time_utc;    // RFC 3339 from the engine; "" = never started
  std::string last_exit_time_utc;     // "" = never exited
  int restart_count = 0;              // restarts by the agent since the count was last reset
  std::string last_restart_time_utc;  // "" = never restarted by the agent
  std::string image;                  // as the deployment names it
  std::string image_hash;             // the engine's image id (sha256:…)
};

// The outcome of applying the desired deployment (lastDesiredVersion / lastDesiredStatus).
struct DeploymentReport {
  int64_t version = -1;  // desired $version last acted on (-1: none yet)
  int code = 406;        // 200, 400, 406, 412, 417, 500 as upstream
  std::string description;
  // Beyond upstream: a deployment that did not become healthy in time was rolled back.
  bool rolled_back = false;
  int64_t rolled_back_from = -1;  // version that failed
  int64_t rolled_back_to = -1;    // last good version restored
  std::string rollback_reason;
};

struct AgentStatus {
  DeploymentReport deployment;
  std::map<std::string, ModuleRuntimeState> modules;  // by module name
};

}  // namespace agent
