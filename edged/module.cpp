#include "edged/module.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <cstdlib>
#include <map>

namespace edged {
using edge::invalid;

Result<ModuleSpec> parse_module_spec(const Json& body) {
  if (!body.is_object()) return invalid("invalid module spec: expected a JSON object");
  ModuleSpec spec;
  if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty())
    return invalid("invalid module spec: missing module name");
  spec.name = body["name"];
  if (spec.name.size() > 256) return invalid("invalid module spec: module name too long");
  if (body.value("type", "") != "docker") return invalid("invalid module type");
  if (body.contains("imagePullPolicy")) {
    if (!body["imagePullPolicy"].is_string()) return invalid("invalid image pull policy");
    std::string p = body["imagePullPolicy"];
    std::transform(p.begin(), p.end(), p.begin(), ::tolower);
    if (p == "on-create") spec.pull_policy = PullPolicy::OnCreate;
    else if (p == "never") spec.pull_policy = PullPolicy::Never;
    else return invalid("invalid image pull policy \"" + body["imagePullPolicy"].get<std::string>() + "\"");
  }
  if (!body.contains("config") || !body["config"].is_object()) return invalid("invalid module spec: missing config");
  const Json& config = body["config"];
  if (!config.contains("settings") || !config["settings"].is_object())
    return invalid("invalid Docker config: missing settings");
  const Json& settings = config["settings"];
  if (!settings.contains("image") || !settings["image"].is_string())
    return invalid("invalid Docker config: missing field `image`");
  spec.image = settings["image"];
  if (auto ref = docker::parse_image(spec.image); !ref) return invalid("invalid Docker config: " + ref.error().message);
  if (settings.contains("createOptions") && !settings["createOptions"].is_null()) {
    if (!settings["createOptions"].is_object()) return invalid("invalid Docker config: createOptions must be an object");
    if (settings["createOptions"].dump().size() > kMaxCreateOptionsSize)
      return invalid("invalid Docker config: createOptions larger than " + std::to_string(kMaxCreateOptionsSize) + " bytes");
    spec.create_options = settings["createOptions"];
  }
  if (settings.contains("auth") && settings["auth"].is_object()) {
    const Json& a = settings["auth"];
    spec.auth = docker::RegistryAuth{a.value("username", ""), a.value("password", ""), a.value("serveraddress", "")};
  }
  if (config.contains("env") && !config["env"].is_null()) {
    if (!config["env"].is_array()) return invalid("invalid module spec: env must be an array");
    std::map<std::string, int> seen;
    for (const auto& e : config["env"]) {
      if (!e.is_object() || !e.contains("key") || !e["key"].is_string() || !e.contains("value") || !e["value"].is_string())
        return invalid("invalid module spec: env entries need string key and value");
      std::string key = e["key"];
      if (seen[key]++) return invalid("duplicate environment variable \"" + key + "\"");
      spec.env.emplace_back(key, e["value"].get<std::string>());
    }
  }
  return spec;
}

Json create_body(const ModuleSpec& spec) {
  Json body = spec.create_options.is_object() ? spec.create_options : Json::object();
  body["Image"] = spec.image;
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : spec.env) env[k] = v;
  if (body.contains("Env") && body["Env"].is_array()) {
    for (const auto& item : body["Env"]) {  // createOptions' Env wins on a duplicate key
      if (!item.is_string()) continue;
      std::string s = item;
      auto eq = s.find('=');
      env[s.substr(0, eq)] = eq == std::string::npos ? "" : s.substr(eq + 1);
    }
  }
  Json env_list = Json::array();
  for (const auto& [k, v] : env) env_list.push_back(k + "=" + v);
  body["Env"] = env_list;
  if (!body.contains("Labels") || !body["Labels"].is_object()) body["Labels"] = Json::object();
  body["Labels"][kOwnerLabel] = kOwner;
  body["Labels"][kOriginalImageLabel] = spec.image;
  return body;
}

namespace {
std::optional<std::pair<std::string, std::string>> scope_label() {
  const char* v = std::getenv("AZIOT_EDGED_SCOPE_LABEL");
  if (!v || !*v) return std::nullopt;
  std::string s = v;
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return std::nullopt;
  return std::pair{s.substr(0, eq), s.substr(eq + 1)};
}
}  // namespace

std::vector<std::string> module_filter() {
  if (auto scope = scope_label()) return {scope->first + "=" + scope->second};
  return {std::string(kOwnerLabel) + "=" + kOwner};
}

void add_scope_label(Json& body) {
  auto scope = scope_label();
  if (!scope) return;
  if (!body.contains("Labels") || !body["Labels"].is_object()) body["Labels"] = Json::object();
  body["Labels"][scope->first] = scope->second;
}

std::string runtime_status(const Json& state) {
  std::string s = state.value("Status", "");
  long long code = state.value("ExitCode", 0LL);
  if (s == "running") return "running";
  if (s == "created" || s == "paused" || s == "restarting") return "stopped";
  if (s == "removing" || s == "exited") return code == 0 ? "stopped" : "failed";
  if (s == "dead") return "dead";
  return "unknown";
}

namespace {
bool is_zero_time(const std::string& t) { return t.empty() || t.starts_with("0001-01-01"); }
}  // namespace

Json module_details(const Json& inspect) {
  const Json& state = inspect.contains("State") ? inspect["State"] : Json::object();
  const Json& labels = inspect.contains("Config") && inspect["Config"].contains("Labels") && inspect["Config"]["Labels"].is_object()
                           ? inspect["Config"]["Labels"] : Json::object();
  std::string name = inspect.value("Name", "");
  if (name.starts_with("/")) name.erase(0, 1);
  Json status{{"runtimeStatus", {{"status", runtime_status(state)}}}};
  std::string started = state.value("StartedAt", ""), finished = state.value("FinishedAt", "");
  if (!is_zero_time(started)) status["startTime"] = started;
  if (!is_zero_time(finished) && state.contains("ExitCode"))
    status["exitStatus"] = {{"exitTime", finished}, {"statusCode", std::to_string(state.value("ExitCode", 0LL))}};
  std::string image = labels.contains(kOriginalImageLabel) && labels[kOriginalImageLabel].is_string()
                          ? labels[kOriginalImageLabel].get<std::string>() : name;
  return Json{{"id", inspect.value("Id", "")},
              {"name", name},
              {"type", "docker"},
              {"config", {{"settings", {{"image", image}, {"imageHash", inspect.value("Image", "")},
                                         {"createOptions", {{"Labels", labels}}}}},
                          {"env", Json::array()}}},
              {"status", status}};
}

Result<long long> parse_since(const std::string& text, long long now) {
  if (text.empty()) return invalid("empty time");
  if (std::all_of(text.begin(), text.end(), ::isdigit)) return std::stoll(text);
  // RFC 3339: 2024-01-02T03:04:05Z or with an offset; fractional seconds ignored.
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end) {
    while (*end == '.' || std::isdigit(static_cast<unsigned char>(*end))) ++end;
    long long offset = 0;
    if (*end == 'Z' || *end == 'z') {
      ++end;
    } else if (*end == '+' || *end == '-') {
      int sign = *end == '-' ? -1 : 1, hh = 0, mm = 0;
      if (std::sscanf(end + 1, "%2d:%2d", &hh, &mm) != 2) return invalid("malformed time offset");
      offset = sign * (hh * 3600LL + mm * 60LL);
      end += 6;
    } else {
      return invalid("missing time zone");
    }
    if (*end) return invalid("trailing characters after time");
    return static_cast<long long>(timegm(&tm)) - offset;
  }
  // Durations: "1d", "90m", "2 days 3 hours", "1h30m".
  static const std::map<std::string, long long> units = {
      {"s", 1}, {"sec", 1}, {"secs", 1}, {"second", 1}, {"seconds", 1},
      {"m", 60}, {"min", 60}, {"mins", 60}, {"minute", 60}, {"minutes", 60},
      {"h", 3600}, {"hr", 3600}, {"hrs", 3600}, {"hour", 3600}, {"hours", 3600},
      {"d", 86400}, {"day", 86400}, {"days", 86400},
      {"w", 604800}, {"week", 604800}, {"weeks", 604800}};
  long long total = 0;
  size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    if (i == text.size()) break;
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (start == i || i - start > 9) return invalid("malformed duration");
    long long n = std::stoll(text.substr(start, i - start));
    while (i < text.size() && text[i] == ' ') ++i;
    size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    auto unit = units.find(text.substr(ustart, i - ustart));
    if (unit == units.end()) return invalid("unknown duration unit");
    total += n * unit->second;
    any = true;
  }
  if (!any) return invalid("malformed duration");
  return now - total;
}

}  // namespace edged
