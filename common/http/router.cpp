#include "common/http/router.h"

#include <algorithm>

#include "common/log.h"
#include "common/uri.h"

namespace edge {
int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidParameter: return 400;
    case ErrorKind::Unauthorized: return 401;
    case ErrorKind::Forbidden: return 403;
    case ErrorKind::NotFound: return 404;
    case ErrorKind::Timeout: return 408;
    case ErrorKind::Conflict: return 409;
    case ErrorKind::PayloadTooLarge: return 413;
    case ErrorKind::Unsupported: return 415;
    case ErrorKind::Unprocessable: return 422;
    case ErrorKind::Unavailable: return 503;
    case ErrorKind::Internal: return 500;
  }
  return 500;
}
}  // namespace edge

namespace edge::http {
namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    out.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool is_json_type(const std::string* content_type) {
  if (!content_type) return true;
  std::string_view ct(*content_type);
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  std::string lowered(ct);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), ::tolower);
  return lowered == "application/json";
}

struct DepthExceeded {};
}  // namespace

Response error_response(const Error& error) {
  int status = http_status(error.kind);
  if (status == 500) {
    log::error("internal error: " + error.message);
    return Response::error(500, "internal error");
  }
  return Response::error(status, error.message);
}

Result<Json> parse_json(std::string_view text) {
  try {
    return Json::parse(text, [](int depth, Json::parse_event_t, Json&) {
      if (depth > kMaxJsonDepth) throw DepthExceeded{};
      return true;
    });
  } catch (const DepthExceeded&) {
    return fail(ErrorKind::Unprocessable, "request body is nested too deeply");
  } catch (const Json::exception& e) {
    return fail(ErrorKind::Unprocessable, std::string("malformed request body: ") + e.what());
  }
}

Result<const Json*> require_body(const Request& request) {
  if (!request.json) return invalid("missing request body");
  return &*request.json;
}

Router::Router(std::vector<std::string> known_versions)
    : known_versions_(std::move(known_versions)) {}

void Router::add(std::string method, std::string pattern, ApiRange range, RouteHandler handler) {
  routes_.push_back({std::move(method), split_path(pattern), std::move(range), std::move(handler)});
}

Response Router::dispatch(Request& req) const {
  const std::string* version = req.query_param("api-version");
  if (!version) return Response::error(400, "api-version not specified");
  if (std::find(known_versions_.begin(), known_versions_.end(), *version) == known_versions_.end())
    return Response::error(400, "invalid api-version \"" + *version + "\"");
  req.api_version = *version;

  auto segments = split_path(req.path);
  bool path_matched = false;
  for (const auto& route : routes_) {
    if (*version < route.range.min || (!route.range.max.empty() && *version > route.range.max))
      continue;
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; ok && i < segments.size(); ++i) {
      const auto& pat = route.segments[i];
      if (pat.size() > 2 && pat.front() == '{' && pat.back() == '}') {
        auto decoded = uri::percent_decode(segments[i]);
        if (segments[i].empty() || !decoded) ok = false;
        else params[pat.substr(1, pat.size() - 2)] = std::move(*decoded);
      } else {
        ok = pat == segments[i];
      }
    }
    if (!ok) continue;
    path_matched = true;
    if (route.method != req.method) continue;

    req.params = std::move(params);
    // As upstream: PUT bodies must be JSON (415 otherwise) and are always parsed; POST and
    // DELETE bodies are parsed when non-empty and JSON-typed, and ignored otherwise.
    const std::string* ct = req.header("content-type");
    if (req.method == "PUT") {
      if (!is_json_type(ct)) return Response::error(415, "request body must be application/json");
      auto json = parse_json(req.body);
      if (!json) return error_response(json.error());
      req.json = std::move(*json);
    } else if (!req.body.empty() && is_json_type(ct)) {
      auto json = parse_json(req.body);
      if (!json) return error_response(json.error());
      req.json = std::move(*json);
    }
    auto result = route.handler(req);
    if (!result) return error_response(result.error());
    return std::move(*result);
  }
  if (path_matched) return Response::error(400, "method not allowed");
  return Response::error(404, "not found");
}

}  // namespace edge::http

#include "common/base64.h"

namespace edge::http {
namespace {
std::unexpected<Error> schema_error(const std::string& message) {
  return fail(ErrorKind::Unprocessable, message);
}
}  // namespace

Result<std::optional<std::string>> optional_string_field(const Json& body, const char* name) {
  if (!body.is_object()) return schema_error("request body must be a JSON object");
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) return schema_error(std::string("invalid type for field `") + name + "`: expected a string");
  return std::optional<std::string>{it->get<std::string>()};
}

Result<std::string> string_field(const Json& body, const char* name) {
  auto v = EDGE_TRY(optional_string_field(body, name));
  if (!v) return schema_error(std::string("missing field `") + name + "`");
  return *v;
}

Result<std::string> bytes_field(const Json& body, const char* name) {
  auto text = EDGE_TRY(string_field(body, name));
  auto bytes = base64::decode(text);
  if (!bytes) return schema_error(std::string("invalid base64 in field `") + name + "`");
  return *bytes;
}

Result<const Json*> object_field(const Json& body, const char* name) {
  if (!body.is_object()) return schema_error("request body must be a JSON object");
  auto it = body.find(name);
  if (it == body.end()) return schema_error(std::string("missing field `") + name + "`");
  if (!it->is_object()) return schema_error(std::string("invalid type for field `") + name + "`: expected an object");
  return &*it;
}
}  // namespace edge::http
