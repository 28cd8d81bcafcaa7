// The reconcile loop: read the desired deployment from a source, reconcile through the runner,
// keep the last good deployment and roll back to it, and wake up early when a module changes
// (events), the source changes, or a back-off restart falls due.
#pragma once
#include <atomic>
#include <condition_variable>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "agent/deployment_store.h"
#include "agent/rollback.h"
#include "agent/runner.h"

namespace agent {

struct AgentOptions {
  RunnerOptions runner;
  // Where the deployment outcome is written as JSON when it changes ("" = nowhere): lets
  // local-mode users and tests see it without a hub.
  std::string status_file;
  std::string gateway;         // IOTEDGE_GATEWAYHOSTNAME, for $upstream
  int64_t interval_ms = 5000;  // upstream's reconcile period
  RollbackSettings rollback;
  // Called after every pass on the loop's thread (the twin source reports from here): the
  // runner, the deployment being enforced (null: none), its desired properties and version
  // (upstream's lastDesiredVersion: a rejected manifest does not change it), the outcome.
  std::function<void(Runner&, const Deployment*, const Json&, int64_t, const DeploymentReport&)> after_pass;
};

// Where desired deployments come from (the local file; the twin source plugs in the same way).
using DesiredSource = std::function<std::expected<DesiredDocument, ManifestError>()>;

class Agent {
 public:
  Agent(AgentOptions options, DesiredSource source, std::unique_ptr<DeploymentStore> store);
  // Reconciles until `stopping()` returns true (checked at least every 250 ms).
  void run(const std::function<bool()>& stopping);
  // One pass now; returns when the next pass is due (unix ms).
  int64_t pass(int64_t now_ms);
  // At SIGTERM, as upstream: the deployment status becomes 406 "Agent is not running" and every
  // module but edgeAgent is stopped.
  void shutdown();
  // Asks for a pass as soon as possible (any thread).
  void wake();
  // Deployment outcome and per-module runtime state, for the reported properties.
  AgentStatus status() const;

 private:
  struct Active {
    Deployment deployment;
    DesiredDocument doc;
  };
  void publish(const DeploymentReport& report);

  AgentOptions options_;
  DesiredSource source_;
  std::unique_ptr<DeploymentStore> store_;
  Runner runner_;
  RollbackGuard guard_;
  std::optional<Active> active_;  // the deployment being enforced
  std::string rejected_;          // a deployment given up by a rollback (its stored text)
  DeploymentReport report_;

  mutable std::mutex mutex_;
  std::condition_variable woken_;
  bool wake_ = false;
  DeploymentReport published_;
  bool published_once_ = false;
};

}  // namespace agent
