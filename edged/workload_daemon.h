// aziot-edged's workload side, put together for main(): identity-service clients, the device
// identity, the Edge CA (made sure of, auto-renewed), the workload API and its sockets.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clients/keyd_client.h"
#include "edged/auth.h"
#include "edged/aziot_clients.h"
#include "edged/edge_ca.h"
#include "edged/management.h"
#include "edged/module_sockets.h"
#include "edged/workload.h"
#include "edged/workload_config.h"

namespace edged {

class WorkloadDaemon {
 public:
  WorkloadDaemon(WorkloadSettings settings, std::string homedir, std::string docker_socket);
  ~WorkloadDaemon();

  // Waits for identityd's device identity (retrying every `retry` while it is unavailable or
  // not provisioned, until `stop` is set), then makes sure of the Edge CA. Errors are fatal.
  edge::Status start(const std::atomic<bool>& stop,
                     std::chrono::milliseconds retry = std::chrono::milliseconds(5000));
  // The socket hooks for the management API (call before serve()).
  ModuleHooks hooks();
  IdentitydClient& identityd() { return identityd_; }
  // Serves the legacy socket and one socket per existing module; `mgmt` answers GET /modules.
  edge::Status serve(Management& mgmt);
  // Called after every Edge CA renewal (modules should restart to fetch new server certs).
  // May be set after start(): the renewal thread may already run.
  void set_renewal_hook(std::function<void()> hook) {
    std::lock_guard lock(hook_mutex_);
    renewal_hook_ = std::move(hook);
  }
  void stop();

  const AziotIdentity& device() const { return device_; }
  EdgeCa& edge_ca() { return *edge_ca_; }
  Workload& workload() { return *workload_; }

 private:
  WorkloadSettings settings_;
  std::string homedir_;
  edge::clients::KeydClient keyd_;
  CertdClient certd_;
  IdentitydClient identityd_;
  CallerAuth auth_;
  AziotIdentity device_;
  std::unique_ptr<EdgeCa> edge_ca_;
  std::unique_ptr<Workload> workload_;
  std::unique_ptr<ModuleSockets> sockets_;
  Management* mgmt_ = nullptr;
  std::mutex hook_mutex_;
  std::function<void()> renewal_hook_;
};

}  // namespace edged
