// The edge agent: reads the deployment (a local manifest file for now), reconciles the
// device's modules through edged's management API, and logs what it did.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

#include "agent/agent.h"
#include "agent/events.h"
#include "agent/local_source.h"
#include "common/daemon.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/uri.h"

namespace {
std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}
volatile std::sig_atomic_t stop_requested = 0;
}  // namespace

int main() {
  using namespace edge;
  daemon::init_process();
  log::init_from_env("RuntimeLogLevel");
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  auto mgmt = uri::parse_endpoint(env_or("IOTEDGE_MANAGEMENTURI", "unix:///var/run/iotedge/mgmt.sock"));
  if (!mgmt) return daemon::report("read IOTEDGE_MANAGEMENTURI", mgmt.error(), daemon::kExitBadConfig);
  std::string source = env_or("ConfigSource", "local");
  if (source != "local") {
    log::error("ConfigSource=" + source + " is not supported by this agent yet; use ConfigSource=local");
    return daemon::kExitBadConfig;
  }
  std::string manifest_path = env_or("LocalConfigPath", "config.json");
  std::string storage = env_or("StorageFolder", "/tmp") + "/edgeAgent";
  if (auto s = fs::ensure_dir(storage, 0700); !s) return daemon::report("create " + storage, s.error());

  // Reconcile: the loop, its deployment source, and the module event watcher that wakes it.
  agent::AgentOptions options;
  options.runner = {mgmt->value, storage, agent::AgentEnvironment::from_env(), agent::RestartSettings::from_env()};
  options.runner.require_identities = false;  // local deployments run without a cloud
  options.gateway = env_or("IOTEDGE_GATEWAYHOSTNAME", env_or("IOTEDGE_PARENTHOSTNAME", ""));
  options.interval_ms = std::max(1LL, std::atoll(env_or("ReconcileIntervalSecs", "5").c_str())) * 1000;
  options.rollback = agent::RollbackSettings::from_env();
  options.status_file = storage + "/deployment-status.json";
  std::unique_ptr<agent::Agent> reconciler;     // outlives the watchers that wake it
  std::atomic<agent::Agent*> waker{nullptr};  // set once the agent exists
  agent::LocalSource local(manifest_path, [&] {
    if (auto* a = waker.load()) a->wake();
  });
  reconciler = std::make_unique<agent::Agent>(options, [&] { return local.read(); },
                                              agent::make_deployment_store(storage));
  waker = reconciler.get();
  agent::ModuleEvents events(mgmt->value, options.runner.env.api_version,
                             [&](const agent::ModuleEvent&) { reconciler->wake(); });
  log::info("Edge agent started: deployment from " + manifest_path);
  reconciler->run([] { return stop_requested != 0; });
  log::info("Edge agent stopping");
  return 0;
}
