// ConfigSource=twin: the agent's deployment comes from its `$edgeAgent` module twin and its
// state is reported there. Wires the environment (settings, workload signer, trust bundle),
// the hub connection and the direct methods together for agent/main.cpp.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "agent/runner.h"
#include "agent/upstream/hub_connection.h"
#include "agent/upstream/methods.h"
#include "agent/upstream/reported.h"

namespace agent::upstream {

class TwinAgent {
 public:
  // Reads the IOTEDGE_* environment, fetches the trust bundle through the workload API and
  // starts connecting. `signer` replaces the workload signer (tests, tools) when given.
  static edge::Result<std::unique_ptr<TwinAgent>> start(const std::string& management_socket,
                                                        std::shared_ptr<Signer> signer = nullptr);
  ~TwinAgent();
  // The desired properties (with "$version"), nullopt until the twin was read once.
  std::optional<Json> desired() const { return connection_->desired(); }
  // Waits until the desired properties change from `version` or `timeout` passes.
  void wait(long long version, std::chrono::milliseconds timeout) {
    connection_->wait_for_desired(version, timeout);
  }
  // Reports the modules as they run now, the outcome of the last reconcile and the version of
  // the deployment last applied.
  void report(Runner& runner, const Deployment* deployment, const Json& desired,
              const DeploymentStatus& status, long long applied_version);
  // At shutdown: "Agent is not running" (406), every module's runtime status unknown.
  void report_shutdown();
  HubConnection& connection() { return *connection_; }

 private:
  TwinAgent() = default;
  edge::http::UnixClient* mgmt_ = nullptr;
  std::unique_ptr<edge::http::UnixClient> mgmt_owner_;
  std::unique_ptr<Methods> methods_;
  std::unique_ptr<HubConnection> connection_;
  std::optional<Platform> platform_;
  Json last_state_;
};

}  // namespace agent::upstream
