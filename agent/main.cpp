// The edge agent: reads the deployment (its `$edgeAgent` module twin, or a local manifest file
// with ConfigSource=local), reconciles the device's modules through edged's management API (woken
// by module events, rolling back a deployment that does not become healthy), and reports what
// runs to the twin.
#include <malloc.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

#include "agent/upstream/twin_agent.h"
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
  // The agent idles most of the time with a handful of threads: one malloc arena for all of
  // them (each extra arena keeps its own pages resident).
  mallopt(M_ARENA_MAX, 1);
  log::init_from_env("RuntimeLogLevel");
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  auto mgmt = uri::parse_endpoint(env_or("IOTEDGE_MANAGEMENTURI", "unix:///var/run/iotedge/mgmt.sock"));
  if (!mgmt) return daemon::report("read IOTEDGE_MANAGEMENTURI", mgmt.error(), daemon::kExitBadConfig);
  std::string source = env_or("ConfigSource", "twin");
  if (source != "local" && source != "twin") {
    log::error("ConfigSource=" + source + " is not supported; use twin or local");
    return daemon::kExitBadConfig;
  }
  std::string manifest_path = env_or("LocalConfigPath", "config.json");
  std::string storage = env_or("StorageFolder", "/tmp") + "/edgeAgent";
  if (auto s = fs::ensure_dir(storage, 0700); !s) return daemon::report("create " + storage, s.error());

  // ConfigSource=twin: the deployment comes from the hub and the state is reported there.
  std::unique_ptr<agent::upstream::TwinAgent> twin;
  if (source == "twin") {
    auto started = agent::upstream::TwinAgent::start(mgmt->value);
    // A bad environment is a configuration error (153: do not restart); anything else may pass.
    if (!started)
      return daemon::report("start the twin config source", started.error(),
                            started.error().kind == ErrorKind::InvalidParameter ? daemon::kExitBadConfig : 1);
    twin = std::move(*started);
  }

  // Reconcile: the loop, its deployment source, and the module event watcher that wakes it.
  agent::AgentOptions options;
  options.runner = {mgmt->value, storage, agent::AgentEnvironment::from_env(), agent::RestartSettings::from_env()};
  // Local deployments run without a cloud; twin deployments need module identities (as
  // upstream) unless RequireModuleIdentities=false (a rig whose edged has no identityd).
  options.runner.require_identities = twin != nullptr && env_or("RequireModuleIdentities", "true") != "false";
  options.gateway = env_or("IOTEDGE_GATEWAYHOSTNAME", env_or("IOTEDGE_PARENTHOSTNAME", ""));
  options.interval_ms = std::max(1LL, std::atoll(env_or("ReconcileIntervalSecs", "5").c_str())) * 1000;
  options.rollback = agent::RollbackSettings::from_env();
  options.status_file = storage + "/deployment-status.json";
  if (twin)
    options.after_pass = [&twin](agent::Runner& runner, const agent::Deployment* deployment, const agent::Json& desired,
                                 int64_t applied_version, const agent::DeploymentReport& report) {
      twin->report(runner, deployment, desired, {report.code, report.description}, applied_version);
    };
  std::unique_ptr<agent::Agent> reconciler;     // outlives the watchers that wake it
  std::atomic<agent::Agent*> waker{nullptr};  // set once the agent exists
  auto wake = [&] {
    if (auto* a = waker.load()) a->wake();
  };
  std::unique_ptr<agent::LocalSource> local;
  agent::DesiredSource desired_source;
  if (twin) {
    desired_source = [&twin]() -> std::expected<agent::DesiredDocument, agent::ManifestError> {
      auto d = twin->desired();
      if (!d) return std::unexpected(agent::ManifestError{406, "the $edgeAgent twin has not been read yet"});
      return agent::DesiredDocument{*d, d->value("$version", int64_t{0})};
    };
  } else {
    local = std::make_unique<agent::LocalSource>(manifest_path, wake);
    desired_source = [&local] { return local->read(); };
  }
  reconciler = std::make_unique<agent::Agent>(options, desired_source, agent::make_deployment_store(storage));
  waker = reconciler.get();
  agent::ModuleEvents events(mgmt->value, options.runner.env.api_version,
                             [&](const agent::ModuleEvent&) { reconciler->wake(); });
  // A new desired version of the twin wakes the loop at once.
  std::thread twin_watch;
  if (twin)
    twin_watch = std::thread([&] {
      long long seen = -1;
      while (!stop_requested) {
        twin->wait(seen, std::chrono::milliseconds(250));
        auto d = twin->desired();
        long long v = d ? d->value("$version", 0LL) : -1;
        if (v != seen) {
          seen = v;
          wake();
        }
      }
    });
  log::info(twin ? std::string("Edge agent started: deployment from the $edgeAgent module twin")
                 : "Edge agent started: deployment from " + manifest_path);
  reconciler->run([] { return stop_requested != 0; });
  if (twin_watch.joinable()) twin_watch.join();
  log::info("Edge agent stopping");
  // Upstream's shutdown: report "Agent is not running" and stop every module but the agent,
  // side by side.
  std::thread report;
  if (twin) report = std::thread([&twin] { twin->report_shutdown(); });
  reconciler->shutdown();
  if (report.joinable()) report.join();
  return 0;
}
