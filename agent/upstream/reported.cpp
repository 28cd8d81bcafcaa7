#include "agent/upstream/reported.h"

#include <cstdio>

namespace agent::upstream {

namespace {
constexpr char kMgmtApi[] = "api-version=2022-08-03";

Json env_json(const std::map<std::string, std::string>& env) {
  Json out = Json::object();
  for (const auto& [k, v] : env) out[k] = {{"value", v}};
  return out;
}

Json module_entry(const ModuleReport& m, const std::string& kind) {
  Json j = Json::object();
  const Module* c = m.config ? &*m.config : nullptr;
  if (kind == "user") j["version"] = c ? c->version : "";
  j["type"] = "docker";
  if (kind != "edgeAgent") {
    j["status"] = c && c->status == DesiredStatus::Stopped ? "stopped" : "running";
    j["restartPolicy"] =
        c ? to_string(c->restart_policy) : (kind == "edgeHub" ? "always" : "on-unhealthy");
  }
  j["startupOrder"] = kind == "edgeAgent" ? 0u : (c ? c->startup_order : kDefaultStartupOrder);
  j["imagePullPolicy"] = c && !c->pull_on_create ? "never" : "on-create";
  j["runtimeStatus"] = m.runtime_status;
  j["exitCode"] = m.exit_code;
  j["statusDescription"] = m.status_description;
  j["lastStartTimeUtc"] = m.last_start_time.empty() ? kMinTime : m.last_start_time;
  j["lastExitTimeUtc"] = m.last_exit_time.empty() ? kMinTime : m.last_exit_time;
  if (kind != "edgeAgent") {
    j["restartCount"] = m.restart_count;
    j["lastRestartTimeUtc"] = m.last_restart_time.empty() ? kMinTime : m.last_restart_time;
  }
  Json settings{{"image", !m.image.empty() ? m.image : (c ? c->image : "")}};
  if (!m.image_hash.empty()) settings["imageHash"] = m.image_hash;
  settings.update(chunk_create_options(c ? c->create_options : Json::object()));
  j["settings"] = settings;
  j["env"] = env_json(c ? c->env : std::map<std::string, std::string>{});
  return j;
}

Json runtime_settings_report(const Json& desired) {
  Json s{{"minDockerVersion", "v1.25"},
         {"loggingOptions", ""},
         {"registryCredentials", Json::object()}};
  if (!desired.is_object()) return s;
  if (desired.contains("minDockerVersion") && desired["minDockerVersion"].is_string())
    s["minDockerVersion"] = desired["minDockerVersion"];
  if (desired.contains("loggingOptions") && desired["loggingOptions"].is_string())
    s["loggingOptions"] = desired["loggingOptions"];
  if (desired.contains("registryCredentials") && desired["registryCredentials"].is_object())
    for (const auto& [name, c] : desired["registryCredentials"].items()) {
      if (!c.is_object()) continue;
      Json r = Json::object();
      for (const char* k : {"address", "username"})
        if (c.contains(k) && c[k].is_string()) r[k] = c[k];
      s["registryCredentials"][name] = r;
    }
  return s;
}

std::string time_of(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  std::string t = j[key];
  return t.starts_with("0001-") ? "" : t;
}
}  // namespace

Json chunk_create_options(const Json& create_options) {
  std::string text = create_options.is_null() ? "{}" : create_options.dump();
  Json out = Json::object();
  for (size_t i = 0, n = 0; i < text.size() || n == 0; i += kCreateOptionsChunk, ++n) {
    std::string key = "createOptions";
    if (n > 0) key += (n < 10 ? "0" : "") + std::to_string(n);
    out[key] = text.substr(i, kCreateOptionsChunk);
  }
  return out;
}

Json build_reported(const std::vector<ModuleReport>& modules, const Platform& platform,
                    const Json& runtime_settings, long long last_desired_version,
                    const DeploymentStatus& status) {
  Json system = Json::object(), user = Json::object();
  for (const auto& m : modules) {
    if (m.name == "edgeAgent")
      system["edgeAgent"] = module_entry(m, "edgeAgent");
    else if (m.name == "edgeHub")
      system["edgeHub"] = module_entry(m, "edgeHub");
    else
      user[m.name] = module_entry(m, "user");
  }
  return Json{{"schemaVersion", "1.0"},
              {"version", {{"version", EDGE_VERSION}, {"build", ""}, {"commit", ""}}},
              {"lastDesiredVersion", last_desired_version},
              {"lastDesiredStatus", {{"code", status.code}, {"description", status.description}}},
              {"runtime",
               {{"type", "docker"},
                {"platform",
                 {{"os", platform.os},
                  {"architecture", platform.architecture},
                  {"version", platform.version}}},
                {"settings", runtime_settings_report(runtime_settings)}}},
              {"systemModules", system},
              {"modules", user}};
}

edge::Result<Platform> system_platform(edge::http::UnixClient& mgmt) {
  auto r = EDGE_TRY(mgmt.request("GET", std::string("/systeminfo?") + kMgmtApi));
  if (r.status != 200) return edge::internal("edged system info: " + r.message());
  auto j = EDGE_TRY(r.json());
  if (!j.is_object()) return edge::internal("edged system info is not an object");
  Platform p;
  p.os = j.value("osType", "linux");
  for (auto& c : p.os) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  p.architecture = j.value("architecture", "");
  p.version = j.value("version", "");
  return p;
}

edge::Result<std::vector<ModuleReport>> collect_modules(
    edge::http::UnixClient& mgmt, const std::map<std::string, Current>& current,
    const Deployment* deployment, const RestartSettings& restart) {
  auto r = EDGE_TRY(mgmt.request("GET", std::string("/modules?") + kMgmtApi));
  if (r.status != 200) return edge::internal("edged listed no modules: " + r.message());
  auto body = EDGE_TRY(r.json());
  std::vector<ModuleReport> out;
  std::map<std::string, Module> desired =
      deployment ? deployment->all() : std::map<std::string, Module>{};
  const Json list = body.is_object() && body.contains("modules") && body["modules"].is_array()
                        ? body["modules"]
                        : Json::array();
  for (const auto& d : list) {
    if (!d.is_object()) continue;
    ModuleReport m;
    m.name = d.value("name", "");
    if (m.name.empty()) continue;
    const Json config = d.value("config", Json::object());
    const Json settings =
        config.is_object() ? config.value("settings", Json::object()) : Json::object();
    m.image = settings.is_object() ? settings.value("image", "") : "";
    m.image_hash = settings.is_object() ? settings.value("imageHash", "") : "";
    const Json st = d.value("status", Json::object());
    const Json exit = st.is_object() ? st.value("exitStatus", Json::object()) : Json::object();
    const Json runtime =
        st.is_object() ? st.value("runtimeStatus", Json::object()) : Json::object();
    m.last_start_time = time_of(st, "startTime");
    m.last_exit_time = time_of(exit, "exitTime");
    if (exit.is_object() && exit.contains("statusCode")) {
      const Json& code = exit["statusCode"];
      m.exit_code = code.is_string()   ? std::atoll(code.get<std::string>().c_str())
                    : code.is_number() ? code.get<long long>()
                                       : 0;
    }
    std::string edged_status = runtime.is_object() ? runtime.value("status", "unknown") : "unknown";
    m.status_description =
        runtime.is_object() ? runtime.value("description", edged_status) : edged_status;
    auto cur = current.find(m.name);
    if (cur != current.end()) {
      m.restart_count = cur->second.restart_count;
      if (cur->second.applied) m.config = cur->second.applied;
    }
    if (!m.config && desired.count(m.name)) m.config = desired[m.name];
    RuntimeStatus s = edged_status == "running"   ? RuntimeStatus::Running
                      : edged_status == "stopped" ? RuntimeStatus::Stopped
                      : edged_status == "failed"  ? RuntimeStatus::Failed
                      : edged_status == "dead"    ? RuntimeStatus::Dead
                                                  : RuntimeStatus::Unknown;
    if (m.config && m.config->status == DesiredStatus::Running && s != RuntimeStatus::Unknown)
      s = status_from_policy(s, m.config->restart_policy, m.restart_count, restart);
    m.runtime_status = to_string(s);
    // A restart by the agent starts the container: that start is the last restart.
    m.last_restart_time = m.restart_count > 0 ? m.last_start_time : m.last_exit_time;
    out.push_back(std::move(m));
  }
  // The agent runs (it is this process) even when edged does not list its container.
  bool has_agent = false;
  for (const auto& m : out) has_agent |= m.name == "edgeAgent";
  if (!has_agent && deployment && deployment->edge_agent) {
    ModuleReport a;
    a.name = "edgeAgent";
    a.config = deployment->edge_agent;
    a.runtime_status = "running";
    a.status_description = "running";
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace agent::upstream
