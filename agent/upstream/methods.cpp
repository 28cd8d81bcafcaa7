#include "agent/upstream/methods.h"

#include <strings.h>

#include <expected>
#include <regex>

#include "common/base64.h"
#include "common/log.h"
#include "common/uri.h"

namespace agent::upstream {

namespace {
constexpr char kMgmtApi[] = "api-version=2022-08-03";

struct MethodError {
  int status;
  std::string message;
};

MethodResult error(int status, const std::string& message) {
  return {status, Json{{"message", message}}};
}

// Upstream's payload parsing: a missing payload and malformed JSON are 400; a schema version
// that is not a version or has another major is 500 (InvalidSchemaVersionException).
std::expected<Json, MethodError> parse_payload(const std::string& text, const char* context) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    return std::unexpected(MethodError{400, "Request payload not found"});
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded())
    return std::unexpected(MethodError{
        400, "Error parsing command payload because of error - the payload is not JSON"});
  if (j.is_null() || (j.is_string() && j.get<std::string>().empty()))
    return std::unexpected(MethodError{400, "Request payload not found"});
  if (!j.is_object())
    return std::unexpected(MethodError{
        400, "Error parsing command payload because of error - the payload is not an object"});
  std::string v = j.contains("schemaVersion") && j["schemaVersion"].is_string()
                      ? j["schemaVersion"].get<std::string>()
                      : "";
  if (v.find_first_not_of(" \t") == std::string::npos)
    return std::unexpected(MethodError{
        400, "Error parsing command payload because of error - schemaVersion is required"});
  static const std::regex version(R"(^(\d+)\.\d+(\.\d+){0,2}$)");
  std::smatch m;
  if (!std::regex_match(v, m, version))
    return std::unexpected(MethodError{500, std::string("Invalid ") + context + " version " + v});
  if (m[1].str() != "1")
    return std::unexpected(
        MethodError{500, std::string("The ") + context + " version " + v +
                             " is not compatible with the expected version 1.0"});
  return j;
}

// edged's {"modules": [...]}, or nothing when the answer has another shape.
Json module_list(const Json& body) {
  if (!body.is_object() || !body.contains("modules") || !body["modules"].is_array())
    return Json::array();
  return body["modules"];
}

std::string required_string(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}
}  // namespace

std::vector<std::pair<int, std::string>> split_log_frames(std::string_view raw) {
  std::vector<std::pair<int, std::string>> out;
  while (raw.size() >= 8) {
    size_t len = (static_cast<uint8_t>(raw[4]) << 24) | (static_cast<uint8_t>(raw[5]) << 16) |
                 (static_cast<uint8_t>(raw[6]) << 8) | static_cast<uint8_t>(raw[7]);
    if (raw[0] > 2 || raw[1] || raw[2] || raw[3] || raw.size() < 8 + len) break;
    out.emplace_back(raw[0], std::string(raw.substr(8, len)));
    raw.remove_prefix(8 + len);
  }
  if (!raw.empty() && out.empty())
    out.emplace_back(1, std::string(raw));  // a TTY stream has no frames
  return out;
}

Methods::Methods(std::string mgmt_socket, std::string hub, std::string device)
    : mgmt_(std::move(mgmt_socket)), hub_(std::move(hub)), device_(std::move(device)) {}

MethodResult Methods::handle(const std::string& name, const std::string& payload) {
  edge::log::info("Received request " + name);
  auto call = [&](const char* context, MethodResult (Methods::*f)(const Json&)) -> MethodResult {
    auto j = parse_payload(payload, context);
    if (!j) return error(j.error().status, j.error().message);
    return (this->*f)(*j);
  };
  if (strcasecmp(name.c_str(), "ping") == 0) return {200, std::nullopt};
  if (strcasecmp(name.c_str(), "RestartModule") == 0)
    return call("restart module request schema", &Methods::restart_module);
  if (strcasecmp(name.c_str(), "GetModuleLogs") == 0)
    return call("logs upload request schema", &Methods::module_logs);
  if (strcasecmp(name.c_str(), "GetTaskStatus") == 0)
    return call("logs upload request schema", &Methods::task_status);
  return error(400, "Command '" + name +
                        "' not found. The supported commands are - "
                        "ping,RestartModule,GetModuleLogs,GetTaskStatus");
}

MethodResult Methods::restart_module(const Json& payload) {
  std::string id = required_string(payload, "id");
  if (id.find_first_not_of(" \t") == std::string::npos)
    return error(400, "Error parsing command payload because of error - id is required");
  auto list = mgmt_.request("GET", std::string("/modules?") + kMgmtApi);
  if (!list || list->status != 200)
    return error(500,
                 "Could not list the modules: " + (list ? list->message() : list.error().message));
  auto body = list->json();
  if (!body) return error(500, "Could not read the module list: " + body.error().message);
  bool found = false;
  for (const auto& m : module_list(*body)) found |= m.is_object() && m.value("name", "") == id;
  if (!found) return error(500, "Module " + id + " not found in the current environment");
  edge::log::info("Restarting " + id + "...");
  auto r =
      mgmt_.request("POST", "/modules/" + edge::uri::percent_encode(id) + "/restart?" + kMgmtApi);
  if (!r) return error(500, r.error().message);
  if (r->status / 100 != 2) return error(500, "Could not restart " + id + ": " + r->message());
  edge::log::info("Restarted " + id);
  return {200, std::nullopt};
}

MethodResult Methods::module_logs(const Json& payload) {
  Json items = payload.contains("items") ? payload["items"] : Json();
  if (items.is_object()) items = Json::array({items});  // a single item is accepted as well
  if (!items.is_array())
    return error(400, "Error parsing command payload because of error - items is required");
  std::string encoding = payload.contains("encoding") && payload["encoding"].is_string()
                             ? payload["encoding"].get<std::string>()
                             : "none";
  std::string content = payload.contains("contentType") && payload["contentType"].is_string()
                            ? payload["contentType"].get<std::string>()
                            : "text";
  if (strcasecmp(encoding.c_str(), "none") != 0)
    return error(400, "Error parsing command payload because of error - encoding " + encoding +
                          " is not supported");
  bool json_lines = strcasecmp(content.c_str(), "json") == 0;
  if (!json_lines && strcasecmp(content.c_str(), "text") != 0)
    return error(400,
                 "Error parsing command payload because of error - unknown contentType " + content);
  // Each item's id is a case-insensitive regex ("all" = every module); the first match wins.
  std::vector<std::pair<std::optional<std::regex>, Json>> wanted;
  for (const auto& item : items) {
    std::string id = item.is_object() ? required_string(item, "id") : "";
    if (id.empty())
      return error(400, "Error parsing command payload because of error - every item needs an id");
    Json filter = item.value("filter", Json::object());
    if (filter.is_null()) filter = Json::object();
    if (!filter.is_object())
      return error(400,
                   "Error parsing command payload because of error - filter must be an object");
    std::optional<std::regex> re;
    if (strcasecmp(id.c_str(), "all") != 0) {
      try {
        re.emplace(id, std::regex::icase | std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return error(400,
                     "Error parsing command payload because of error - invalid id regex " + id);
      }
    }
    wanted.emplace_back(std::move(re), filter);
  }
  auto list = mgmt_.request("GET", std::string("/modules?") + kMgmtApi);
  if (!list || list->status != 200) return error(500, "Could not list the modules");
  std::vector<std::string> names;
  if (auto body = list->json())
    for (const auto& m : module_list(*body))
      if (m.is_object()) names.push_back(m.value("name", ""));
  std::vector<std::pair<std::string, Json>> selected;
  for (const auto& [re, filter] : wanted)
    for (const auto& n : names) {
      bool taken = false;
      for (const auto& s : selected) taken |= strcasecmp(s.first.c_str(), n.c_str()) == 0;
      if (!taken && (!re || std::regex_search(n, *re))) selected.emplace_back(n, filter);
    }
  Json out = Json::array();
  size_t total = 0;
  for (const auto& [name, filter] : selected) {
    std::string query =
        std::string("?") + kMgmtApi + "&follow=false" + (json_lines ? "&timestamps=true" : "");
    if (filter.contains("tail") && filter["tail"].is_number_integer() &&
        filter["tail"].get<long long>() >= 0)
      query += "&tail=" + std::to_string(filter["tail"].get<long long>());
    for (const char* k : {"since", "until"})
      if (filter.contains(k) && filter[k].is_string())
        query +=
            std::string("&") + k + "=" + edge::uri::percent_encode(filter[k].get<std::string>());
    auto r = mgmt_.request("GET", "/modules/" + edge::uri::percent_encode(name) + "/logs" + query);
    if (!r) return error(500, r.error().message);
    if (r->status != 200)
      return error(500, "Could not read the logs of " + name + ": " + r->message());
    std::optional<std::regex> text_re;
    if (filter.contains("regex") && filter["regex"].is_string()) {
      try {
        text_re.emplace(filter["regex"].get<std::string>());
      } catch (const std::regex_error&) {
        return error(400, "Error parsing command payload because of error - invalid regex");
      }
    }
    std::optional<int> level;
    if (filter.contains("loglevel") && filter["loglevel"].is_number_integer())
      level = filter["loglevel"].get<int>();
    std::string text;
    Json messages = Json::array();
    static const std::regex line_re(
        R"(^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z)?\s*(<(\d)>)?\s*(.*)$)");
    for (auto& [stream, frame] : split_log_frames(r->body)) {
      std::string line = frame;
      if (!line.empty() && line.back() == '\n') line.pop_back();
      std::smatch m;
      std::regex_match(line, m, line_re);
      int line_level = m[3].matched ? std::stoi(m[3]) : 6;
      std::string body_text = m[4].matched ? m[4].str() : line;
      if (level && line_level != *level) continue;
      if (text_re && !std::regex_search(body_text, *text_re)) continue;
      if (json_lines) {
        Json msg{{"iothub", hub_},
                 {"device", device_},
                 {"id", name},
                 {"stream", stream == 2 ? "stderr" : "stdout"},
                 {"loglevel", line_level},
                 {"text", body_text}};
        if (m[1].matched) msg["timestamp"] = m[1].str();
        messages.push_back(msg);
      } else {
        text += frame;
      }
    }
    std::string payload_text = json_lines ? messages.dump() : text;
    total += payload_text.size();
    if (total > kMaxLogsPayload)
      return error(400,
                   "The payload is too large for a direct method. GetModuleLogs supports up to " +
                       std::to_string(kMaxLogsPayload) +
                       " bytes of logs. The current request returned " + std::to_string(total) +
                       " bytes.\nTry reducing the size of the logs by setting the 'tail', "
                       "'since' and 'from' fields in log options filter.");
    out.push_back({{"id", name}, {"payload", payload_text}});
  }
  return {200, out};
}

MethodResult Methods::task_status(const Json& payload) {
  std::string id = required_string(payload, "correlationId");
  if (id.find_first_not_of(" \t") == std::string::npos)
    return error(400, "Error parsing command payload because of error - correlationId is required");
  // No background tasks (log / support-bundle uploads) run in this agent: every id is unknown.
  return {200, Json{{"status", "Unknown"}, {"message", ""}, {"correlationId", id}}};
}

}  // namespace agent::upstream
