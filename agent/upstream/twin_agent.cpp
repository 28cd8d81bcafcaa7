#include "agent/upstream/twin_agent.h"

#include <ctime>
#include <thread>

#include "common/log.h"

namespace agent::upstream {

edge::Result<std::unique_ptr<TwinAgent>> TwinAgent::start(const std::string& management_socket,
                                                          std::shared_ptr<Signer> signer) {
  std::string notes;
  auto settings = EDGE_TRY(settings_from_env(notes));
  if (!notes.empty()) edge::log::warn(notes.substr(0, notes.size() - 1));
  // edged may still be starting its workload socket: retry briefly before giving up.
  auto bundle = fetch_trust_bundle(settings.workload_socket);
  for (int i = 0; i < 10 && !bundle && bundle.error().kind != edge::ErrorKind::InvalidParameter;
       ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    bundle = fetch_trust_bundle(settings.workload_socket);
  }
  std::string trust = EDGE_TRY(std::move(bundle));
  if (!signer)
    signer = std::make_shared<WorkloadSigner>(settings.workload_socket, settings.module_id,
                                              settings.generation_id);
  std::unique_ptr<TwinAgent> agent(new TwinAgent());
  agent->mgmt_owner_ = std::make_unique<edge::http::UnixClient>(management_socket);
  agent->mgmt_ = agent->mgmt_owner_.get();
  agent->methods_ = std::make_unique<Methods>(management_socket, settings.iothub_hostname,
                                              settings.device_id, trust, settings.gateway_hostname);
  Methods* methods = agent->methods_.get();
  agent->connection_ = std::make_unique<HubConnection>(
      settings, std::move(signer), std::move(trust),
      [methods](const std::string& name, const std::string& payload) {
        return methods->handle(name, payload);
      });
  agent->connection_->start();
  return agent;
}

TwinAgent::~TwinAgent() {
  if (connection_) connection_->stop();
}

void TwinAgent::report(Runner& runner, const Deployment* deployment, const Json& desired,
                       const DeploymentStatus& status, long long applied_version) {
  if (!platform_) {
    auto p = system_platform(*mgmt_);
    if (p) platform_ = *p;
  }
  auto current = runner.current();
  std::vector<ModuleReport> modules;
  if (current) {
    auto collected = collect_modules(*mgmt_, *current, deployment, RestartSettings{});
    if (collected) modules = std::move(*collected);
  }
  Json runtime_settings = Json::object();
  if (desired.is_object() && desired.contains("runtime") && desired["runtime"].is_object() &&
      desired["runtime"].contains("settings"))
    runtime_settings = desired["runtime"]["settings"];
  if (!current) {
    // edged did not answer: keep what was reported, with the failure as the status.
    if (last_state_.is_object()) {
      Json s = last_state_;
      s["lastDesiredStatus"] = {
          {"code", 500}, {"description", "Could not read the modules: " + current.error().message}};
      connection_->report(s);
    }
    return;
  }
  // Upstream: the version of the deployment last applied; before any, the one reported before.
  long long version = applied_version;
  if (version <= 0) {
    auto acked = connection_->acknowledged();
    version = acked && acked->contains("lastDesiredVersion") &&
                      (*acked)["lastDesiredVersion"].is_number_integer()
                  ? (*acked)["lastDesiredVersion"].get<long long>()
                  : 0;
  }
  last_state_ =
      build_reported(modules, platform_.value_or(Platform{}), runtime_settings, version, status);
  connection_->report(last_state_);
}

void TwinAgent::report_shutdown() {
  if (!last_state_.is_object() || !connection_->connected()) return;
  Json s = last_state_;
  s["lastDesiredStatus"] = {{"code", 406}, {"description", "Agent is not running"}};
  for (const char* section : {"systemModules", "modules"})
    for (auto& [name, m] : s[section].items()) m["runtimeStatus"] = "unknown";
  connection_->report(s);
  (void)connection_->flush_report(std::chrono::seconds(5));
}

}  // namespace agent::upstream
