// The edge agent: reads the deployment (its `$edgeAgent` module twin, or a local manifest file
// with ConfigSource=local), reconciles the device's modules through edged's management API every
// few seconds, and reports what runs to the twin.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

#include "agent/manifest.h"
#include "agent/runner.h"
#include "agent/upstream/twin_agent.h"
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
  long long interval = std::atoll(env_or("ReconcileIntervalSecs", "5").c_str());
  agent::Runner runner({mgmt->value, storage, env_or("IOTEDGE_GATEWAYHOSTNAME", "")});

  // ConfigSource=twin: the deployment comes from the hub and the state is reported there.
  std::unique_ptr<agent::upstream::TwinAgent> twin;
  if (source == "twin") {
    auto started = agent::upstream::TwinAgent::start(mgmt->value);
    // A bad environment is a configuration error (153: do not restart); anything else may pass.
    if (!started)
      return daemon::report("start the twin config source", started.error(),
                            started.error().kind == ErrorKind::InvalidParameter ? daemon::kExitBadConfig : 1);
    twin = std::move(*started);
    log::info("Edge agent started: deployment from the $edgeAgent module twin");
  } else {
    log::info("Edge agent started: deployment from " + manifest_path);
  }
  agent::upstream::DeploymentStatus status;
  long long applied_version = 0;
  std::string last_problem;
  while (!stop_requested) {
    std::string problem;
    agent::Json desired;
    long long version = 0;
    std::optional<agent::Deployment> deployment;
    bool have_source = true;
    if (twin) {
      auto d = twin->desired();
      have_source = d.has_value();
      if (d) {
        desired = *d;
        version = desired.value("$version", 0LL);
      }
    } else if (auto text = fs::read_file(manifest_path, 1024 * 1024); !text) {
      problem = "500 could not read the deployment: " + text.error().message;
    } else {
      auto doc = agent::Json::parse(*text, nullptr, false);
      desired = doc;
      if (doc.is_object() && doc.contains("modulesContent"))
        desired = doc["modulesContent"].value("$edgeAgent", agent::Json::object()).value("properties.desired", agent::Json::object());
      else if (doc.is_object() && doc.contains("deploymentConfig"))
        desired = doc["deploymentConfig"], version = doc.value("version", 0LL);
      if (doc.is_discarded()) problem = "400 the deployment is not valid JSON";
    }
    if (have_source && problem.empty()) {
      if (auto d = agent::parse_deployment(desired, env_or("IOTEDGE_GATEWAYHOSTNAME", "")); !d) {
        problem = std::to_string(d.error().code) + " " + d.error().message;
      } else {
        deployment = std::move(*d);
        auto r = runner.reconcile(*deployment, std::time(nullptr));
        applied_version = version;  // upstream records the deployment even when commands failed
        if (!r) problem = "500 " + r.error().message;
        else if (!r->empty()) log::info("Reconciled: " + *r);
      }
    }
    if (have_source) {
      status = problem.empty() ? agent::upstream::DeploymentStatus{200, ""}
                               : agent::upstream::DeploymentStatus{std::atoi(problem.c_str()), problem.substr(4)};
    }
    if (!problem.empty() && problem != last_problem) log::error("Deployment not applied: " + problem);
    last_problem = problem;
    if (twin) {
      if (have_source) twin->report(runner, deployment ? &*deployment : nullptr, desired, status, applied_version);
      // A new desired version wakes the loop at once.
      for (long long i = 0; i < interval * 10 && !stop_requested; ++i) {
        twin->wait(have_source ? version : -1, std::chrono::milliseconds(100));
        auto d = twin->desired();
        if (d && d->value("$version", 0LL) != version) break;
      }
      continue;
    }
    for (long long i = 0; i < interval * 10 && !stop_requested; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::info("Edge agent stopping");
  if (twin) twin->report_shutdown();
  return 0;
}
