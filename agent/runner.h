// Runs plans against edged's management API and keeps the agent's bookkeeping (the applied
// deployment and restart counts) in its storage folder.
#pragma once
#include <map>
#include <string>

#include "agent/planner.h"
#include "common/http/client.h"

namespace agent {

struct RunnerOptions {
  std::string management_socket;  // path of edged's mgmt.sock
  std::string storage_dir;        // applied deployment and restart counts survive restarts
  std::string gateway;            // IOTEDGE_GATEWAYHOSTNAME, for $upstream
};

class Runner {
 public:
  explicit Runner(RunnerOptions options);
  // One reconcile pass toward `deployment`; returns a one-line summary of what was done.
  edge::Result<std::string> reconcile(const Deployment& deployment, long long now);
  // The current modules as edged reports them, with the agent's bookkeeping.
  edge::Result<std::map<std::string, Current>> current(long long now);

 private:
  edge::Status execute(const Command& command, const Deployment& deployment, long long now);
  Json module_spec(const Module& m, const Deployment& deployment) const;
  void load_state();
  void save_state() const;

  RunnerOptions options_;
  edge::http::UnixClient mgmt_;
  std::map<std::string, Module> applied_;
  std::map<std::string, int> restarts_;
};

}  // namespace agent
