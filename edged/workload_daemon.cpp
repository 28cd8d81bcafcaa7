#include "edged/workload_daemon.h"

#include <thread>

#include "common/log.h"

namespace edged {

WorkloadDaemon::WorkloadDaemon(WorkloadSettings settings, std::string homedir,
                               std::string docker_socket)
    : settings_(std::move(settings)),
      homedir_(std::move(homedir)),
      keyd_(settings_.keyd_socket),
      certd_(settings_.certd_socket),
      identityd_(settings_.identityd_socket),
      auth_(std::move(docker_socket)) {}

WorkloadDaemon::~WorkloadDaemon() { stop(); }

edge::Status WorkloadDaemon::start(const std::atomic<bool>& stop, std::chrono::milliseconds retry) {
  for (;;) {
    auto device = identityd_.device_identity();
    if (device) {
      device_ = *device;
      break;
    }
    edge::log::warn("Failed to get device identity: " + device.error().message + "; retrying");
    for (auto waited = std::chrono::milliseconds(0); waited < retry;
         waited += std::chrono::milliseconds(100)) {
      if (stop)
        return edge::fail(edge::ErrorKind::Unavailable,
                          "stopped while waiting for the device identity");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  edge_ca_ = std::make_unique<EdgeCa>(settings_.edge_ca, device_.device_id, keyd_, certd_);
  EDGE_TRY_VOID(edge_ca_->ensure());
  edge_ca_->start_auto_renew([this] {
    std::function<void()> hook;
    {
      std::lock_guard lock(hook_mutex_);
      hook = renewal_hook_;
    }
    if (hook) hook();
  });
  WorkloadOptions options{device_.hub_name,
                          device_.device_id,
                          settings_.trust_bundle_cert,
                          settings_.manifest_trust_bundle_cert,
                          settings_.edge_ca.cert_id,
                          settings_.edge_ca.key_id};
  workload_ = std::make_unique<Workload>(
      options, keyd_, certd_, identityd_,
      [this](const std::string& module, pid_t pid) { return auth_.check(module, pid); },
      [this]() -> edge::Result<Json> {
        if (!mgmt_) return edge::internal("the module list is not available yet");
        return mgmt_->list_modules();
      });
  sockets_ = std::make_unique<ModuleSockets>(
      homedir_ + "/mnt", [this](edge::http::Request& r) { return workload_->handle(r); },
      settings_.max_workload_requests);
  return {};
}

ModuleHooks WorkloadDaemon::hooks() {
  return ModuleHooks{[this](const std::string& m) { return sockets_->start(m); },
                     [this](const std::string& m) { sockets_->stop(m); },
                     [this](const std::string& m) { sockets_->remove(m); }};
}

edge::Status WorkloadDaemon::serve(Management& mgmt) {
  mgmt_ = &mgmt;
  auto endpoint = EDGE_TRY(edge::uri::parse_endpoint(settings_.listen_workload_uri));
  if (auto s = sockets_->listen_legacy(endpoint); !s)
    return std::unexpected(
        s.error().context("could not listen on " + settings_.listen_workload_uri));
  // As upstream: a listener for every module that exists (their containers start later).
  if (auto list = mgmt.list_modules()) {
    for (const auto& m : (*list)["modules"]) {
      std::string name = m.value("name", "");
      if (auto s = sockets_->start(name); !s)
        edge::log::error("Could not start listener for module " + name + ", error " +
                         s.error().message);
    }
  } else {
    edge::log::warn("Could not list modules: " + list.error().message);
  }
  edge::log::info("Workload API listening on " + settings_.listen_workload_uri);
  return {};
}

void WorkloadDaemon::stop() {
  if (edge_ca_) edge_ca_->stop();
  if (sockets_) sockets_->stop_all();
}

}  // namespace edged
