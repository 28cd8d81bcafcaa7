// Reconcile planning as upstream's HealthRestartPlanner: diff the desired modules against what
// runs, group by startupOrder, and emit edged commands; restarts follow the restart policy
// with upstream's back-off. Pure functions: the runner executes the commands.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/manifest.h"
#include "agent/restart_policy.h"

namespace agent {

// What runs now: edged's view plus the agent's own bookkeeping. Times are unix milliseconds,
// 0 = never.
struct Current {
  std::string name;
  std::string image;
  RuntimeStatus edged_status = RuntimeStatus::Unknown;  // running/stopped/failed/dead/unknown
  int64_t exit_ms = 0;
  int64_t start_ms = 0;
  int restart_count = 0;
  std::optional<Module> applied;  // its config in the last applied deployment
};

enum class Op { PrepareUpdate, Create, Update, Start, Stop, Remove, Restart, ResetRestarts };

struct Command {
  Op op;
  std::string module;
  std::optional<Module> spec;  // Create/Update/PrepareUpdate
  // startupOrder group: the runner lets a group's modules come up before the next group.
  uint32_t group = 0;
  bool operator==(const Command&) const = default;
};

std::vector<Command> plan(const std::map<std::string, Module>& desired,
                          const std::map<std::string, Current>& current, int64_t now_ms,
                          const RestartSettings& settings);
// When the next back-off restart of `current` falls due (0 = none pending); lets the agent
// sleep exactly until then.
int64_t next_restart_due(const std::map<std::string, Module>& desired,
                         const std::map<std::string, Current>& current,
                         const RestartSettings& settings);
// Does every desired module run in its desired state?
bool converged(const std::map<std::string, Module>& desired,
               const std::map<std::string, Current>& current);
const char* to_string(Op op);

}  // namespace agent
