// Runs plans against edged's management API and keeps the agent's bookkeeping (the applied
// deployment, restart counts, failed-command back-off) in its storage folder.
#pragma once
#include <map>
#include <mutex>
#include <string>

#include "agent/module_spec.h"
#include "agent/planner.h"
#include "agent/runtime_state.h"
#include "common/http/client.h"

namespace agent {

struct RunnerOptions {
  std::string management_socket;  // path of edged's mgmt.sock
  std::string storage_dir;        // applied deployment and restart counts survive restarts
  AgentEnvironment env;           // what edged told the agent (injected into module specs)
  RestartSettings restart;
  int64_t group_wait_ms = 5000;  // how long a startupOrder group may take to come up
  // Upstream skips a module whose identity cannot be obtained. A local (offline) deployment
  // sets this false: such a module still runs, without an identity, so no cloud is needed.
  bool require_identities = true;
};

struct PassResult {
  std::string summary;  // "create a, start a, …" (empty: nothing to do)
  size_t failed = 0;    // commands that failed this pass
  size_t skipped = 0;   // commands held back by their retry back-off
  std::string first_error;
  bool converged = false;   // every module in its desired state (before this pass's commands)
  int64_t next_due_ms = 0;  // next back-off restart (0: none)
};

class Runner {
 public:
  explicit Runner(RunnerOptions options);
  // One reconcile pass toward `deployment` (identified by `version` for retry bookkeeping).
  edge::Result<PassResult> reconcile(const Deployment& deployment, int64_t version, int64_t now_ms);
  // The current modules as edged reports them, with the agent's bookkeeping.
  edge::Result<std::map<std::string, Current>> current();
  // Upstream's shutdown plan: stops every module but edgeAgent, side by side; returns the
  // names stopped, or the first error.
  edge::Result<std::vector<std::string>> stop_all();
  // Per-module runtime state from the last pass (for reported properties).
  std::map<std::string, ModuleRuntimeState> module_states() const;

 private:
  edge::Status execute(edge::http::UnixClient& mgmt, const Command& command,
                       const Deployment& deployment,
                       const std::map<std::string, std::string>& generation_ids, int64_t now_ms);
  // One module's steps of a group in order, stopping at the first failure; true when the
  // module was started.
  bool run_chain(edge::http::UnixClient& client, const std::vector<const Command*>& chain,
                 const Deployment& deployment,
                 const std::map<std::string, std::string>& generation_ids, int64_t now_ms,
                 PassResult& result);
  void remember_applied(const std::string& module, const Module& m);
  // Creates/deletes module identities for the plan; returns module name → generation id.
  std::map<std::string, std::string> sync_identities(const std::vector<Command>& commands);
  void wait_until_up(const std::vector<std::string>& modules);
  void record_states(const std::map<std::string, Current>& current, const Deployment& deployment);
  void load_state();
  void save_state() const;

  struct Restarts {
    int count = 0;
    int64_t last_ms = 0;
  };
  struct Attempts {
    int runs = 0;
    int64_t last_ms = 0;
  };

  static constexpr size_t kParallelModules = 4;  // upstream's client allows 5 requests at once

  RunnerOptions options_;
  edge::http::UnixClient mgmt_;
  std::mutex book_mutex_;  // applied_, restarts_, failed_commands_ and the pass result
  std::map<std::string, Module> applied_;
  std::map<std::string, Restarts> restarts_;
  std::map<std::string, Attempts> failed_commands_;  // by command key, for one deployment
  int64_t attempts_version_ = -2;
  std::map<std::string, Json> raw_modules_;  // edged's last GET /modules entries by name
  mutable std::mutex state_mutex_;
  std::map<std::string, ModuleRuntimeState> states_;
};

}  // namespace agent
