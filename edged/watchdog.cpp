#include "edged/watchdog.h"

#include "common/log.h"
#include "edged/agent_spec.h"
#include "edged/module.h"

namespace edged {
namespace {
constexpr int kRenewalStopSeconds = 30;  // upstream's stop_all grace period
}
using edge::Result;
using edge::Status;

std::string Watchdog::generation_id() {
  if (!options_.identity) return "";
  auto updated = options_.identity->update_agent_identity();
  if (updated) return *updated;
  // Offline (hub unreachable): identityd's cached identity still names the generation.
  auto cached = options_.identity->agent_generation_id();
  if (cached) return *cached;
  edge::log::warn("Failed to update $edgeAgent identity: " + updated.error().message +
                  "; starting the agent without a generation id");
  return "";
}

Status Watchdog::create_and_start() {
  const Config& c = options_.config;
  ModuleSpec spec = agent_module_spec(c, options_.device, generation_id(), options_.homedir);
  edge::log::info("Creating and starting Edge runtime module " + spec.name + "...");
  if (spec.pull_policy == PullPolicy::OnCreate) {
    if (auto s = pull_and_record(docker_, spec.image, spec.auth, options_.image_use); !s)
      return edge::fail(s.error().context("Failed to pull Edge runtime module"));
  } else if (auto image = docker_.inspect_image(spec.image); !image) {
    if (image.error().kind == edge::ErrorKind::NotFound)
      return edge::fail(edge::ErrorKind::NotFound,
                        "Failed to create Edge runtime module: image " + spec.image +
                            " is not on this device and imagePullPolicy is \"never\"");
    return edge::fail(image.error().context("Failed to create Edge runtime module"));
  }
  Json body = create_body(spec);
  if (!c.allow_elevated_docker_permissions) restrict_privileges(body);
  add_scope_label(body);
  if (auto id = docker_.create_container(spec.name, body); !id)
    return edge::fail(id.error().context("Failed to create Edge runtime module"));
  record_container_image(docker_, spec.name, options_.image_use);
  if (options_.before_start) EDGE_TRY_VOID(options_.before_start(spec.name));
  if (auto s = docker_.start(spec.name); !s)
    return edge::fail(s.error().context("Failed to start Edge runtime"));
  edge::log::info("Started Edge runtime module " + spec.name);
  return {};
}

Result<std::string> Watchdog::check() {
  const std::string& name = options_.config.agent.name;
  auto info = docker_.inspect_container(name);
  if (!info) {
    if (info.error().kind != edge::ErrorKind::NotFound) return edge::fail(info.error());
    EDGE_TRY_VOID(create_and_start());
    return std::string("created");
  }
  std::string status = runtime_status((*info)["State"]);
  if (status == "running") return status;
  if (status == "stopped" || status == "failed") {
    edge::log::info("Edge runtime status is " + status + ", starting module now...");
    if (options_.before_start) EDGE_TRY_VOID(options_.before_start(name));
    if (auto s = docker_.start(name); !s)
      return edge::fail(s.error().context("Failed to start Edge runtime"));
    return std::string("started");
  }
  edge::log::info("Edge runtime status is " + status + ", removing and recreating module...");
  if (auto s = docker_.remove_container(name, true);
      !s && s.error().kind != edge::ErrorKind::NotFound)
    return edge::fail(s.error().context("Failed to remove Edge runtime"));
  EDGE_TRY_VOID(create_and_start());
  return std::string("recreated");
}

Status Watchdog::restart_after_renewal(Management& mgmt) {
  std::lock_guard lock(mutex_);
  const std::string& agent = options_.config.agent.name;
  auto info = docker_.inspect_container(agent);
  if (!info || runtime_status((*info)["State"]) != "running") {
    edge::log::info("Edge runtime is not running: modules are not restarted after the Edge CA renewal");
    return {};
  }
  edge::log::info("Restarting all modules after the Edge CA renewal...");
  auto list = EDGE_TRY(mgmt.list_modules());
  std::vector<std::string> names;
  for (const auto& m : list["modules"])
    if (std::string name = m.value("name", ""); !name.empty() && name != agent) names.push_back(name);
  std::string failures;
  auto note = [&](const Status& s) {
    if (!s && s.error().kind != edge::ErrorKind::NotFound)
      failures += (failures.empty() ? "" : "; ") + s.error().message;
  };
  for (const auto& name : names) note(mgmt.stop_module(name, kRenewalStopSeconds));
  note(mgmt.stop_module(agent, kRenewalStopSeconds));
  for (const auto& name : names) note(mgmt.start_module(name));
  note(mgmt.start_module(agent));  // last: it may deploy modules that need the new certs
  if (!failures.empty()) return edge::internal("could not restart every module: " + failures);
  edge::log::info("All modules restarted after the Edge CA renewal");
  return {};
}

Status Watchdog::run(StopSignal& stop, std::chrono::milliseconds period) {
  edge::log::info("Starting watchdog with " + std::to_string(period.count() / 1000) +
                  " second period...");
  uint32_t errors = 0;
  do {
    auto r = [&] {
      std::lock_guard lock(mutex_);
      return check();
    }();
    if (r) continue;
    edge::log::warn("Error in watchdog: " + r.error().message);
    ++errors;
    auto max = options_.config.watchdog_max_retries;
    if (max && errors >= *max)
      return edge::internal("Watchdog error count has exceeded allowed retries");
  } while (!stop.wait_for(period));
  return {};
}

}  // namespace edged
