#include "agent/manifest.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <set>
#include <vector>

namespace agent {
using edge::invalid;

namespace {
std::unexpected<ManifestError> format_error(const std::string& message) {
  return std::unexpected(ManifestError{400, "Agent configuration format is invalid: " + message});
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

bool valid_schema_version(const std::string& v) {
  // A .NET Version with at least two parts, major 1, not above 1.1.0.
  static const std::regex re(R"(^(\d+)\.(\d+)(?:\.(\d+))?(?:\.(\d+))?$)");
  std::smatch m;
  if (!std::regex_match(v, m, re)) return false;
  long major = std::stol(m[1]), minor = std::stol(m[2]);
  long build = m[3].matched ? std::stol(m[3]) : 0, revision = m[4].matched ? std::stol(m[4]) : 0;
  if (major != 1) return false;
  if (minor < 1) return true;
  return minor == 1 && build == 0 && revision == 0;
}

std::expected<Module, std::string> parse_module(const std::string& name, const Json& j,
                                                bool user_module, bool require_status,
                                                const std::string& gateway) {
  if (!j.is_object()) return std::unexpected("module " + name + " must be an object");
  if (j.value("type", "") != "docker")
    return std::unexpected("module " + name + " has an unsupported type");
  Module m;
  m.name = name;
  if (j.contains("version")) {
    if (!j["version"].is_string())
      return std::unexpected("module " + name + ": version must be a string");
    m.version = j["version"];
  }
  if (j.contains("status") && !j["status"].is_null()) {
    std::string s = j["status"].is_string() ? j["status"].get<std::string>() : "";
    if (s == "running")
      m.status = DesiredStatus::Running;
    else if (s == "stopped")
      m.status = DesiredStatus::Stopped;
    else
      return std::unexpected("module " + name + " has an invalid status");
  } else if (require_status) {
    return std::unexpected("module " + name + " has no status");
  }
  m.restart_policy = user_module ? RestartPolicy::OnUnhealthy : RestartPolicy::Always;
  if (j.contains("restartPolicy") && !j["restartPolicy"].is_null()) {
    std::string p = j["restartPolicy"].is_string() ? j["restartPolicy"].get<std::string>() : "";
    if (p == "never")
      m.restart_policy = RestartPolicy::Never;
    else if (p == "on-failure")
      m.restart_policy = RestartPolicy::OnFailure;
    else if (p == "on-unhealthy")
      m.restart_policy = RestartPolicy::OnUnhealthy;
    else if (p == "always")
      m.restart_policy = RestartPolicy::Always;
    else
      return std::unexpected("module " + name + " has an invalid restartPolicy");
  }
  if (j.contains("imagePullPolicy") && !j["imagePullPolicy"].is_null()) {
    std::string p = j["imagePullPolicy"].is_string() ? j["imagePullPolicy"].get<std::string>() : "";
    if (p == "on-create")
      m.pull_on_create = true;
    else if (p == "never")
      m.pull_on_create = false;
    else
      return std::unexpected("module " + name + " has an invalid imagePullPolicy");
  }
  if (j.contains("startupOrder") && !j["startupOrder"].is_null()) {
    if (!j["startupOrder"].is_number_unsigned() ||
        j["startupOrder"].get<uint64_t>() > kDefaultStartupOrder)
      return std::unexpected("module " + name + " has an invalid startupOrder");
    m.startup_order = static_cast<uint32_t>(j["startupOrder"].get<uint64_t>());
  }
  if (!j.contains("settings") || !j["settings"].is_object())
    return std::unexpected("module " + name + " has no settings");
  const Json& settings = j["settings"];
  if (!settings.contains("image") || !settings["image"].is_string())
    return std::unexpected("module " + name + " has no image");
  auto image = normalize_image(settings["image"], gateway);
  if (!image) return std::unexpected("module " + name + ": " + image.error().message);
  m.image = *image;
  auto options = join_create_options(settings);
  if (!options) return std::unexpected("module " + name + ": " + options.error().message);
  m.create_options = *options;
  if (settings.contains("digest") && settings["digest"].is_string()) m.digest = settings["digest"];
  if (j.contains("env") && !j["env"].is_null()) {
    if (!j["env"].is_object()) return std::unexpected("module " + name + ": env must be an object");
    for (const auto& [key, value] : j["env"].items()) {
      if (key.empty() || key.find_first_of("+#$ \t\n") != std::string::npos)
        return std::unexpected("module " + name + " has an invalid environment variable name \"" +
                               key + "\"");
      if (!value.is_object())
        return std::unexpected("module " + name + ": env " + key + " must be {\"value\": ...}");
      const Json& v = value.contains("value") ? value["value"] : Json();
      if (!v.is_null() && !v.is_string())
        return std::unexpected("module " + name + ": env " + key + " value must be a string");
      m.env[key] = v.is_null() ? "" : v.get<std::string>();
    }
  }
  return m;
}
}  // namespace

const char* to_string(RestartPolicy p) {
  switch (p) {
    case RestartPolicy::Never:
      return "never";
    case RestartPolicy::OnFailure:
      return "on-failure";
    case RestartPolicy::OnUnhealthy:
      return "on-unhealthy";
    case RestartPolicy::Always:
      return "always";
  }
  return "never";
}

std::map<std::string, Module> Deployment::all() const {
  std::map<std::string, Module> out = modules;
  if (edge_agent) out["edgeAgent"] = *edge_agent;
  if (edge_hub) out["edgeHub"] = *edge_hub;
  return out;
}

edge::Result<std::string> normalize_image(const std::string& raw, const std::string& gateway) {
  std::string image = trim(raw);
  if (image.starts_with("$")) {
    static const std::regex upstream(R"(^(.*)\$upstream(:[1-9].*)$)");
    std::smatch m;
    if (!std::regex_match(image, m, upstream))
      return invalid("image " + image + " does not name $upstream:<port>");
    if (gateway.empty())
      return invalid("image " + image + " uses $upstream but this device has no parent");
    image = m[1].str() + gateway + m[2].str();
  }
  static const std::regex shape(R"(^(([^/]*/)*)([^/:]+)(:[^/:]+)?$)");
  std::smatch m;
  if (image.empty() || image.find_first_of(" \t\n") != std::string::npos ||
      !std::regex_match(image, m, shape))
    return invalid("invalid image \"" + image + "\"");
  if (!m[4].matched) image += ":latest";
  return image;
}

edge::Result<Json> join_create_options(const Json& settings) {
  static const std::regex key_re(R"(^createoptions([0-9]*)$)", std::regex::icase);
  std::vector<std::pair<std::string, std::string>> chunks;  // key, value
  for (const auto& [key, value] : settings.items()) {
    if (!std::regex_match(key, key_re)) continue;
    if (!value.is_string()) return invalid("createOptions must be a JSON string");
    chunks.emplace_back(key, value.get<std::string>());
  }
  if (chunks.empty()) return Json::object();
  if (chunks.size() > kMaxCreateOptionsChunks)
    return invalid("createOptions has more than 100 chunks");
  std::sort(chunks.begin(), chunks.end());
  std::string joined;
  for (size_t i = 0; i < chunks.size(); ++i) {
    std::string suffix = chunks[i].first.substr(13);
    std::string expected = i == 0 ? "" : (i < 10 ? "0" : "") + std::to_string(i);
    if (suffix != expected)
      return invalid(
          "createOptions chunks are not createOptions, createOptions01, ... without gaps");
    joined += chunks[i].second;
    if (joined.size() > kMaxCreateOptionsSize)
      return invalid("createOptions larger than " + std::to_string(kMaxCreateOptionsSize) +
                     " bytes");
  }
  if (trim(joined).empty() || trim(joined) == "null") return Json::object();
  Json parsed = Json::parse(joined, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return invalid("createOptions is not a JSON object");
  return parsed;
}

std::expected<Deployment, ManifestError> parse_deployment(const Json& desired,
                                                          const std::string& gateway) {
  if (!desired.is_object()) return format_error("desired properties are not an object");
  bool empty = true;
  for (const auto& [key, value] : desired.items())
    if (key != "$version" && key != "$metadata") empty = false;
  if (empty)
    return std::unexpected(
        ManifestError{417,
                      "This device has an empty configuration for the edge agent. "
                      "Please set a deployment manifest."});
  Deployment d;
  if (!desired.contains("schemaVersion") || !desired["schemaVersion"].is_string())
    return format_error("missing schemaVersion");
  d.schema_version = desired["schemaVersion"];
  if (!desired.contains("runtime") || !desired["runtime"].is_object() ||
      desired["runtime"].value("type", "") != "docker")
    return format_error("runtime.type must be \"docker\"");
  if (const auto& rt = desired["runtime"]; rt.contains("settings") && rt["settings"].is_object() &&
                                           rt["settings"].contains("registryCredentials")) {
    const Json& creds = rt["settings"]["registryCredentials"];
    if (!creds.is_object()) return format_error("registryCredentials must be an object");
    for (const auto& [name, c] : creds.items()) {
      auto field = [&](const char* k) -> std::string {
        return c.is_object() && c.contains(k) && c[k].is_string() ? trim(c[k].get<std::string>())
                                                                  : "";
      };
      RegistryCredential rc{field("address"), field("username"), field("password")};
      if (rc.address.empty() || rc.username.empty() || rc.password.empty())
        return format_error("registry credential " + name +
                            " needs address, username and password");
      if (rc.address.starts_with("$upstream")) rc.address = gateway + rc.address.substr(9);
      d.registry_credentials[name] = rc;
    }
  }
  const Json system = desired.value("systemModules", Json::object());
  if (!system.is_object()) return format_error("systemModules must be an object");
  for (const auto& [name, j] : system.items()) {
    if (name != "edgeAgent" && name != "edgeHub")
      return format_error("unknown system module " + name);
    auto m = parse_module(name, j, false, name == "edgeHub", gateway);
    if (!m) return format_error(m.error());
    if (name == "edgeAgent") {
      m->status = DesiredStatus::Running;
      m->restart_policy = RestartPolicy::Always;
      m->startup_order = 0;
      d.edge_agent = *m;
    } else {
      d.edge_hub = *m;
    }
  }
  const Json modules = desired.value("modules", Json::object());
  if (!modules.is_object()) return format_error("modules must be an object");
  if (modules.size() > kMaxModules)
    return format_error("more than " + std::to_string(kMaxModules) + " modules");
  static const std::regex name_re(R"(^[a-zA-Z][a-zA-Z0-9_.-]*$)");
  for (const auto& [name, j] : modules.items()) {
    if (name == "edgeAgent" || name == "edgeHub")
      return format_error("module name " + name + " is reserved");
    if (name.size() > 64 || !std::regex_match(name, name_re))
      return format_error("invalid module name \"" + name + "\"");
    auto m = parse_module(name, j, true, true, gateway);
    if (!m) return format_error(m.error());
    d.modules[name] = *m;
  }
  if (!valid_schema_version(d.schema_version))
    return std::unexpected(ManifestError{412, "The desired properties' schema version " +
                                                  d.schema_version +
                                                  " is not supported; expected 1.0 or 1.1."});
  return d;
}

}  // namespace agent

namespace agent {

std::expected<DesiredDocument, ManifestError> read_manifest(std::string_view text) {
  auto bad = [](const std::string& m) {
    return std::unexpected(ManifestError{400, "Agent configuration format is invalid: " + m});
  };
  if (text.size() > kMaxManifestBytes)
    return bad("the manifest is larger than " + std::to_string(kMaxManifestBytes) + " bytes");
  // Duplicate keys would silently keep one module of two with the same name: refuse them.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  bool too_deep = false;
  auto watch = [&](int depth, Json::parse_event_t event, Json& parsed) {
    if (depth > kMaxManifestDepth) too_deep = true;
    if (event == Json::parse_event_t::object_start)
      keys.emplace_back();
    else if (event == Json::parse_event_t::object_end && !keys.empty())
      keys.pop_back();
    else if (event == Json::parse_event_t::key && !keys.empty() &&
             !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return !too_deep;
  };
  Json doc = Json::parse(text.begin(), text.end(), watch, false);
  if (too_deep)
    return bad("the manifest nests deeper than " + std::to_string(kMaxManifestDepth) + " levels");
  if (doc.is_discarded()) return bad("the manifest is not valid JSON");
  if (!duplicate.empty()) return bad("duplicate key \"" + duplicate + "\"");
  if (!doc.is_object()) return bad("the manifest is not a JSON object");
  DesiredDocument out;
  auto version_of = [](const Json& j, const char* key) -> int64_t {
    return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
  };
  if (doc.contains("modulesContent")) {
    const Json& content = doc["modulesContent"];
    if (!content.is_object() || !content.contains("$edgeAgent") ||
        !content["$edgeAgent"].is_object())
      return bad("modulesContent has no $edgeAgent");
    out.desired = content["$edgeAgent"].value("properties.desired", Json::object());
  } else if (doc.contains("deploymentConfig")) {
    out.desired = doc["deploymentConfig"];
    out.version = version_of(doc, "version");
  } else {
    out.desired = doc;
  }
  if (out.desired.is_object() && out.version == 0)
    out.version = version_of(out.desired, "$version");
  return out;
}

}  // namespace agent
