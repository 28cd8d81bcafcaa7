#include "agent/runner.h"

#include <ctime>

#include "common/fs.h"
#include "common/log.h"
#include "common/uri.h"

namespace agent {
using edge::Result;
using edge::Status;

namespace {
constexpr char kApi[] = "api-version=2022-08-03";

long long parse_time(const std::string& t) {
  if (t.empty() || t.starts_with("0001-")) return 0;
  std::tm tm{};
  if (!strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<long long>(timegm(&tm));
}

RuntimeStatus from_edged(const std::string& s) {
  if (s == "running") return RuntimeStatus::Running;
  if (s == "stopped") return RuntimeStatus::Stopped;
  if (s == "failed") return RuntimeStatus::Failed;
  if (s == "dead") return RuntimeStatus::Dead;
  return RuntimeStatus::Unknown;
}

Json module_to_json(const Module& m) {
  Json env = Json::object();
  for (const auto& [k, v] : m.env) env[k] = v;
  return Json{{"name", m.name}, {"version", m.version}, {"status", m.status == DesiredStatus::Running ? "running" : "stopped"},
              {"restartPolicy", to_string(m.restart_policy)}, {"pullOnCreate", m.pull_on_create},
              {"startupOrder", m.startup_order}, {"image", m.image}, {"createOptions", m.create_options},
              {"digest", m.digest}, {"env", env}};
}

Module module_from_json(const Json& j) {
  Module m;
  m.name = j.value("name", "");
  m.version = j.value("version", "");
  m.status = j.value("status", "running") == "running" ? DesiredStatus::Running : DesiredStatus::Stopped;
  std::string p = j.value("restartPolicy", "always");
  m.restart_policy = p == "never" ? RestartPolicy::Never : p == "on-failure" ? RestartPolicy::OnFailure
                     : p == "on-unhealthy" ? RestartPolicy::OnUnhealthy : RestartPolicy::Always;
  m.pull_on_create = j.value("pullOnCreate", true);
  m.startup_order = j.value("startupOrder", kDefaultStartupOrder);
  m.image = j.value("image", "");
  m.create_options = j.value("createOptions", Json::object());
  m.digest = j.value("digest", "");
  for (const auto& [k, v] : j.value("env", Json::object()).items()) m.env[k] = v.get<std::string>();
  return m;
}
}  // namespace

Runner::Runner(RunnerOptions options) : options_(std::move(options)), mgmt_(options_.management_socket) { load_state(); }

void Runner::load_state() {
  auto text = edge::fs::read_file(options_.storage_dir + "/agent-state.json");
  if (!text) return;
  Json j = Json::parse(*text, nullptr, false);
  if (!j.is_object()) return;
  for (const auto& m : j.value("applied", Json::array())) applied_[m.value("name", "")] = module_from_json(m);
  for (const auto& [k, v] : j.value("restarts", Json::object()).items()) restarts_[k] = v.get<int>();
}

void Runner::save_state() const {
  Json applied = Json::array();
  for (const auto& [n, m] : applied_) applied.push_back(module_to_json(m));
  Json state{{"applied", applied}, {"restarts", restarts_}};
  if (auto s = edge::fs::write_atomic(options_.storage_dir + "/agent-state.json", state.dump(), 0600); !s)
    edge::log::warn("Failed to save agent state: " + s.error().message);
}

Result<std::map<std::string, Current>> Runner::current(long long) {
  auto r = EDGE_TRY(mgmt_.request("GET", std::string("/modules?") + kApi));
  if (r.status != 200) return edge::internal("edged listed no modules: " + r.message());
  auto body = EDGE_TRY(r.json());
  std::map<std::string, Current> out;
  for (const auto& d : body.value("modules", Json::array())) {
    Current c;
    c.name = d.value("name", "");
    c.image = d["config"]["settings"].value("image", "");
    const auto& st = d.value("status", Json::object());
    c.edged_status = from_edged(st.value("runtimeStatus", Json::object()).value("status", "unknown"));
    c.start_time = parse_time(st.value("startTime", ""));
    c.exit_time = parse_time(st.value("exitStatus", Json::object()).value("exitTime", ""));
    c.restart_count = restarts_.count(c.name) ? restarts_.at(c.name) : 0;
    if (auto it = applied_.find(c.name); it != applied_.end()) c.applied = it->second;
    out[c.name] = c;
  }
  return out;
}

Json Runner::module_spec(const Module& m, const Deployment& d) const {
  Json env = Json::array();
  for (const auto& [k, v] : m.env) env.push_back({{"key", k}, {"value", v}});
  Json settings{{"image", m.image}, {"createOptions", m.create_options}};
  if (!m.digest.empty()) settings["digest"] = m.digest;
  // Credentials of the registry the image comes from (first matching address).
  auto slash = m.image.find('/');
  std::string host = slash == std::string::npos ? "" : m.image.substr(0, slash);
  for (const auto& [name, c] : d.registry_credentials)
    if (!host.empty() && strcasecmp(c.address.c_str(), host.c_str()) == 0) {
      settings["auth"] = {{"username", c.username}, {"password", c.password}, {"serveraddress", c.address}};
      break;
    }
  return Json{{"name", m.name}, {"type", "docker"}, {"imagePullPolicy", m.pull_on_create ? "On-Create" : "Never"},
              {"config", {{"settings", settings}, {"env", env}}}};
}

Status Runner::execute(const Command& c, const Deployment& d, long long) {
  std::string base = "/modules/" + edge::uri::percent_encode(c.module);
  auto expect = [&](const Result<edge::http::ClientResponse>& r, std::initializer_list<int> ok) -> Status {
    if (!r) return std::unexpected(r.error());
    for (int s : ok)
      if (r->status == s) return {};
    return edge::internal(std::string(to_string(c.op)) + " " + c.module + ": " + std::to_string(r->status) + " " + r->message());
  };
  switch (c.op) {
    case Op::PrepareUpdate:
      return expect(mgmt_.request("POST", base + "/prepareupdate?" + kApi, module_spec(*c.spec, d)), {204});
    case Op::Create:
      EDGE_TRY_VOID(expect(mgmt_.request("POST", std::string("/modules?") + kApi, module_spec(*c.spec, d)), {201}));
      applied_[c.module] = *c.spec;
      return {};
    case Op::Update:
      EDGE_TRY_VOID(expect(mgmt_.request("PUT", base + "?start=false&" + kApi, module_spec(*c.spec, d)), {201}));
      applied_[c.module] = *c.spec;
      return {};
    case Op::Start: return expect(mgmt_.request("POST", base + "/start?" + kApi), {204, 304});
    case Op::Stop: return expect(mgmt_.request("POST", base + "/stop?" + kApi), {204, 304});
    case Op::Restart:
      ++restarts_[c.module];
      EDGE_TRY_VOID(expect(mgmt_.request("POST", base + "/stop?" + kApi), {204, 304}));
      return expect(mgmt_.request("POST", base + "/start?" + kApi), {204, 304});
    case Op::Remove:
      EDGE_TRY_VOID(expect(mgmt_.request("DELETE", base + "?" + kApi), {204, 404}));
      applied_.erase(c.module);
      restarts_.erase(c.module);
      return {};
    case Op::ResetRestarts:
      restarts_.erase(c.module);
      return {};
  }
  return {};
}

Result<std::string> Runner::reconcile(const Deployment& deployment, long long now) {
  auto current_modules = EDGE_TRY(current(now));
  auto commands = plan(deployment.all(), current_modules, now, RestartSettings{});
  std::string summary;
  size_t failed = 0;
  for (const auto& c : commands) {
    auto s = execute(c, deployment, now);
    summary += std::string(summary.empty() ? "" : ", ") + to_string(c.op) + " " + c.module;
    if (!s) {
      ++failed;
      edge::log::error("Failed to " + std::string(to_string(c.op)) + " " + c.module + ": " + s.error().message);
      // Later commands of the same module depend on this one: skip them this pass.
      break;
    }
  }
  save_state();
  if (failed) return edge::internal("reconcile stopped after a failed command");
  return summary;
}

}  // namespace agent
