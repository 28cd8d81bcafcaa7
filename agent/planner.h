// Reconcile planning as upstream's HealthRestartPlanner: diff the desired modules against what
// runs, group by startupOrder, and emit edged commands; restarts follow the restart policy
// with upstream's back-off. Pure functions: the runner executes the commands.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/manifest.h"

namespace agent {

enum class RuntimeStatus { Running, Stopped, Failed, Backoff, Dead, Unknown };

struct RestartSettings {
  int max_restart_count = 20;
  long long cool_off_unit_seconds = 10;
  long long intensive_care_seconds = 600;
};

// What runs now: edged's view plus the agent's own bookkeeping.
struct Current {
  std::string name;
  std::string image;
  RuntimeStatus edged_status = RuntimeStatus::Unknown;  // running/stopped/failed/dead/unknown
  long long exit_time = 0;                              // unix seconds, 0 = never exited
  long long start_time = 0;                             // 0 = never started
  int restart_count = 0;
  std::optional<Module> applied;  // its config in the last applied deployment
};

enum class Op { PrepareUpdate, Create, Update, Start, Stop, Remove, Restart, ResetRestarts };

struct Command {
  Op op;
  std::string module;
  std::optional<Module> spec;  // Create/Update/PrepareUpdate
  bool operator==(const Command&) const = default;
};

long long cool_off_seconds(int restart_count, const RestartSettings& s);
// Upstream's ComputeModuleStatusFromRestartPolicy.
RuntimeStatus status_from_policy(RuntimeStatus edged, RestartPolicy policy, int restart_count,
                                 const RestartSettings& s);
std::vector<Command> plan(const std::map<std::string, Module>& desired,
                          const std::map<std::string, Current>& current, long long now,
                          const RestartSettings& settings);
const char* to_string(Op op);

}  // namespace agent
