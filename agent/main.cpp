// The edge agent: reads the deployment (a local manifest file for now), reconciles the
// device's modules through edged's management API every few seconds, and logs what it did.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>

#include "agent/manifest.h"
#include "agent/runner.h"
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
  long long interval = std::atoll(env_or("ReconcileIntervalSecs", "5").c_str());
  agent::Runner runner({mgmt->value, storage, env_or("IOTEDGE_GATEWAYHOSTNAME", "")});
  log::info("Edge agent started: deployment from " + manifest_path);
  std::string last_problem;
  while (!stop_requested) {
    auto text = fs::read_file(manifest_path, 1024 * 1024);
    std::string problem;
    if (!text) {
      problem = "could not read the deployment: " + text.error().message;
    } else {
      auto doc = agent::Json::parse(*text, nullptr, false);
      agent::Json desired = doc;
      if (doc.is_object() && doc.contains("modulesContent"))
        desired = doc["modulesContent"].value("$edgeAgent", agent::Json::object()).value("properties.desired", agent::Json::object());
      else if (doc.is_object() && doc.contains("deploymentConfig"))
        desired = doc["deploymentConfig"];
      if (doc.is_discarded()) {
        problem = "400 the deployment is not valid JSON";
      } else if (auto d = agent::parse_deployment(desired, env_or("IOTEDGE_GATEWAYHOSTNAME", "")); !d) {
        problem = std::to_string(d.error().code) + " " + d.error().message;
      } else if (auto r = runner.reconcile(*d, std::time(nullptr)); !r) {
        problem = "500 " + r.error().message;
      } else if (!r->empty()) {
        log::info("Reconciled: " + *r);
      }
    }
    if (!problem.empty() && problem != last_problem) log::error("Deployment not applied: " + problem);
    last_problem = problem;
    for (long long i = 0; i < interval * 10 && !stop_requested; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log::info("Edge agent stopping");
  return 0;
}
