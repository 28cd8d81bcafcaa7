#include "agent/upstream/methods.h"

#include <strings.h>

#include <expected>
#include <regex>

#include "agent/upstream/blob.h"
#include "agent/upstream/gzip.h"
#include "common/base64.h"
#include "common/log.h"
#include "common/uri.h"

namespace agent::upstream {

namespace {
constexpr char kMgmtApi[] = "api-version=2022-08-03";

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
  if (!context) return j;  // UploadSupportBundle: the version is not checked
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

Methods::Methods(std::string mgmt_socket, std::string hub, std::string device,
                 std::string trust_pem, std::string gateway)
    : mgmt_(std::move(mgmt_socket)),
      hub_(std::move(hub)),
      device_(std::move(device)),
      trust_pem_(std::move(trust_pem)),
      gateway_(std::move(gateway)) {}

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
  if (strcasecmp(name.c_str(), "UploadModuleLogs") == 0)
    return call("logs upload request schema", &Methods::upload_logs);
  if (strcasecmp(name.c_str(), "GetTaskStatus") == 0)
    return call("logs upload request schema", &Methods::task_status);
  if (strcasecmp(name.c_str(), "UploadSupportBundle") == 0) {
    // Upstream does not check this payload's schema version.
    auto j = parse_payload(payload, nullptr);
    if (!j) return error(j.error().status, j.error().message);
    return upload_support_bundle(*j);
  }
  return error(400, "Command '" + name +
                        "' not found. The supported commands are - "
                        "ping,RestartModule,GetModuleLogs,UploadModuleLogs,UploadSupportBundle,"
                        "GetTaskStatus");
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

std::expected<LogsRequest, MethodError> Methods::parse_logs_request(const Json& payload,
                                                                  edge::http::UnixClient& mgmt) {
  auto bad = [](const std::string& what) {
    return std::unexpected(
        MethodError{400, "Error parsing command payload because of error - " + what});
  };
  Json items = payload.contains("items") ? payload["items"] : Json();
  if (items.is_object()) items = Json::array({items});  // a single item is accepted as well
  if (!items.is_array()) return bad("items is required");
  if (items.size() > 100) return bad("at most 100 items are accepted");
  std::string encoding = payload.contains("encoding") && payload["encoding"].is_string()
                             ? payload["encoding"].get<std::string>()
                             : "none";
  std::string content = payload.contains("contentType") && payload["contentType"].is_string()
                            ? payload["contentType"].get<std::string>()
                            : "text";
  LogsRequest request;
  request.gzip = strcasecmp(encoding.c_str(), "gzip") == 0;
  if (!request.gzip && strcasecmp(encoding.c_str(), "none") != 0)
    return bad("unknown encoding " + encoding);
  request.json = strcasecmp(content.c_str(), "json") == 0;
  if (!request.json && strcasecmp(content.c_str(), "text") != 0)
    return bad("unknown contentType " + content);
  // Each item's id is a case-insensitive regex ("all" = every module); the first match wins.
  std::vector<std::pair<std::optional<std::regex>, Json>> wanted;
  for (const auto& item : items) {
    std::string id = item.is_object() ? required_string(item, "id") : "";
    if (id.empty()) return bad("every item needs an id");
    Json filter = item.value("filter", Json::object());
    if (filter.is_null()) filter = Json::object();
    if (!filter.is_object()) return bad("filter must be an object");
    if (filter.contains("regex") && filter["regex"].is_string()) {
      try {
        std::regex check(filter["regex"].get<std::string>());
      } catch (const std::regex_error&) {
        return bad("invalid regex");
      }
    }
    std::optional<std::regex> re;
    if (strcasecmp(id.c_str(), "all") != 0) {
      try {
        re.emplace(id, std::regex::icase | std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return bad("invalid id regex " + id);
      }
    }
    wanted.emplace_back(std::move(re), filter);
  }
  auto list = mgmt.request("GET", std::string("/modules?") + kMgmtApi);
  if (!list || list->status != 200)
    return std::unexpected(MethodError{500, "Could not list the modules"});
  std::vector<std::string> names;
  if (auto body = list->json())
    for (const auto& m : module_list(*body))
      if (m.is_object()) names.push_back(m.value("name", ""));
  for (const auto& [re, filter] : wanted)
    for (const auto& n : names) {
      bool taken = false;
      for (const auto& s : request.modules) taken |= strcasecmp(s.first.c_str(), n.c_str()) == 0;
      if (!taken && (!re || std::regex_search(n, *re))) request.modules.emplace_back(n, filter);
    }
  return request;
}

std::expected<ModuleLogs, MethodError> Methods::fetch_logs(edge::http::UnixClient& mgmt,
                                                           const std::string& name,
                                                           const Json& filter, bool json_lines) {
  std::string query =
      std::string("?") + kMgmtApi + "&follow=false" + (json_lines ? "&timestamps=true" : "");
  if (filter.contains("tail") && filter["tail"].is_number_integer() &&
      filter["tail"].get<long long>() >= 0)
    query += "&tail=" + std::to_string(filter["tail"].get<long long>());
  for (const char* k : {"since", "until"})
    if (filter.contains(k) && filter[k].is_string())
      query += std::string("&") + k + "=" + edge::uri::percent_encode(filter[k].get<std::string>());
  auto r = mgmt.request("GET", "/modules/" + edge::uri::percent_encode(name) + "/logs" + query);
  if (!r) return std::unexpected(MethodError{500, r.error().message});
  if (r->status != 200)
    return std::unexpected(
        MethodError{500, "Could not read the logs of " + name + ": " + r->message()});
  std::optional<std::regex> text_re;
  if (filter.contains("regex") && filter["regex"].is_string())
    text_re.emplace(filter["regex"].get<std::string>());  // checked when the request was parsed
  std::optional<int> level;
  if (filter.contains("loglevel") && filter["loglevel"].is_number_integer())
    level = filter["loglevel"].get<int>();
  ModuleLogs out;
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
      out.messages.push_back(msg);
    } else {
      out.text.push_back(std::move(frame));
    }
  }
  return out;
}

MethodResult Methods::module_logs(const Json& payload) {
  auto request = parse_logs_request(payload, mgmt_);
  if (!request) return error(request.error().status, request.error().message);
  Json out = Json::array();
  size_t total = 0;
  for (const auto& [name, filter] : request->modules) {
    auto logs = fetch_logs(mgmt_, name, filter, request->json);
    if (!logs) return error(logs.error().status, logs.error().message);
    std::string text = logs->joined(request->json);
    Json entry{{"id", name}};
    if (request->gzip) {
      // Upstream: the gzipped bytes as "payloadBytes" (base64); their length counts.
      auto packed = gzip_compress(text);
      if (!packed) return error(500, packed.error().message);
      total += packed->size();
      entry["payloadBytes"] = edge::base64::encode(*packed);
    } else {
      total += text.size();
      entry["payload"] = std::move(text);
    }
    if (total > kMaxLogsPayload)
      return error(400,
                   "The payload is too large for a direct method. GetModuleLogs supports up to " +
                       std::to_string(kMaxLogsPayload) +
                       " bytes of logs. The current request returned " + std::to_string(total) +
                       " bytes.\nTry reducing the size of the logs by setting the 'tail', "
                       "'since' and 'from' fields in log options filter.");
    out.push_back(std::move(entry));
  }
  return {200, out};
}

std::string ModuleLogs::joined(bool json_lines) const {
  if (json_lines) return messages.dump();
  std::string all;
  for (const auto& t : text) all += t;
  return all;
}

edge::Status Methods::upload_module(const BlobContainer& container, const LogsRequest& request,
                                    const std::string& name, const Json& filter,
                                    const std::atomic<bool>& stopping) {
  edge::http::UnixClient mgmt(mgmt_.socket_path());
  auto logs = fetch_logs(mgmt, name, filter, request.json);
  if (!logs) return edge::fail(edge::ErrorKind::Unavailable, logs.error().message);
  std::string ext = std::string(request.json ? "json" : "log") + (request.gzip ? ".gz" : "");
  std::string blob = blob_name(hub_, device_, name, ext, std::time(nullptr));
  std::string encoding = request.gzip ? "gzip" : "";
  edge::log::info("Uploading blob " + blob);
  if (request.json) {
    std::string body = logs->joined(true);
    if (request.gzip) body = EDGE_TRY(gzip_compress(body));
    return container.put_block_blob(blob, body, "application/json", encoding);
  }
  // Text goes to an append blob in groups of up to 100 lines (each its own gzip member).
  EDGE_TRY_VOID(container.create_append_blob(blob, "text/plain", encoding));
  std::string group;
  size_t lines = 0;
  auto flush = [&]() -> edge::Status {
    if (group.empty()) return {};
    std::string body = request.gzip ? EDGE_TRY(gzip_compress(group)) : group;
    group.clear();
    lines = 0;
    return container.append_block(blob, body);
  };
  for (const auto& line : logs->text) {
    if (stopping) return edge::fail(edge::ErrorKind::Unavailable, "the agent is stopping");
    if (group.size() + line.size() > kMaxAppendBlock / 2) EDGE_TRY_VOID(flush());
    group += line.size() > kMaxAppendBlock / 2 ? line.substr(0, kMaxAppendBlock / 2) : line;
    if (++lines == 100) EDGE_TRY_VOID(flush());
  }
  return flush();
}

MethodResult Methods::upload_logs(const Json& payload) {
  std::string sas = required_string(payload, "sasUrl");
  if (sas.find_first_not_of(" \t") == std::string::npos)
    return error(400, "Error parsing command payload because of error - sasUrl is required");
  auto request = parse_logs_request(payload, mgmt_);
  if (!request) return error(request.error().status, request.error().message);
  auto started = tasks_.run(
      "upload logs", [this, sas, request = *request](const std::atomic<bool>& stopping) -> edge::Status {
        auto container = EDGE_TRY(BlobContainer::open(sas, gateway_, trust_pem_));
        for (const auto& [name, filter] : request.modules) {
          EDGE_TRY_VOID(upload_module(container, request, name, filter, stopping));
          edge::log::info("Finished uploading logs for module " + name);
        }
        return {};
      });
  if (!started) return error(500, started.error());
  return {200, *started};
}

MethodResult Methods::upload_support_bundle(const Json& payload) {
  std::string sas = required_string(payload, "sasUrl");
  if (sas.find_first_not_of(" \t") == std::string::npos)
    return error(400, "Error parsing command payload because of error - sasUrl is required");
  std::string query = std::string("?") + kMgmtApi;
  for (const char* k : {"since", "until"}) {
    if (!payload.contains(k) || payload[k].is_null()) continue;
    if (!payload[k].is_string())
      return error(400, std::string("Error parsing command payload because of error - ") + k +
                            " must be a string");
    query += std::string("&") + k + "=" + edge::uri::percent_encode(payload[k].get<std::string>());
  }
  query += "&iothub_hostname=" + edge::uri::percent_encode(hub_);
  if (payload.contains("edgeRuntimeOnly") && !payload["edgeRuntimeOnly"].is_null()) {
    if (!payload["edgeRuntimeOnly"].is_boolean())
      return error(400,
                   "Error parsing command payload because of error - edgeRuntimeOnly must be a "
                   "boolean");
    query += std::string("&edge_runtime_only=") +
             (payload["edgeRuntimeOnly"].get<bool>() ? "true" : "false");
  }
  auto started =
      tasks_.run("upload support bundle", [this, sas, query](const std::atomic<bool>&) -> edge::Status {
        auto container = EDGE_TRY(BlobContainer::open(sas, gateway_, trust_pem_));
        // Collecting the bundle takes a while (edged runs the checks and reads every log).
        edge::http::UnixClient mgmt(mgmt_.socket_path(), std::chrono::minutes(5));
        auto r = mgmt.request("GET", "/systeminfo/supportbundle" + query);
        if (!r) return std::unexpected(r.error().context("get the support bundle"));
        if (r->status != 200)
          return edge::fail(edge::ErrorKind::Unavailable,
                            "could not get the support bundle from edged: " +
                                std::to_string(r->status) + " " + r->message());
        std::string blob = blob_name(hub_, device_, "support-bundle", "zip", std::time(nullptr));
        edge::log::info("Uploading blob " + blob);
        return container.put_block_blob(blob, r->body, "", "");
      });
  if (!started) return error(500, started.error());
  return {200, *started};
}

MethodResult Methods::task_status(const Json& payload) {
  std::string id = required_string(payload, "correlationId");
  if (id.find_first_not_of(" \t") == std::string::npos)
    return error(400, "Error parsing command payload because of error - correlationId is required");
  return {200, tasks_.status(id)};
}

}  // namespace agent::upstream
