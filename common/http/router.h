// Routes by path pattern and api-version range with upstream's error behaviour:
// missing api-version -> 400, unknown version -> 400, no route in range -> 404,
// wrong method -> 400 "method not allowed", bad JSON -> 422, PUT without JSON -> 415.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "common/http/message.h"

namespace edge::http {

constexpr int kMaxJsonDepth = 64;

using RouteHandler = std::function<Result<Response>(Request&)>;

struct ApiRange {
  std::string min;  // inclusive
  std::string max;  // inclusive; empty = no upper bound
};

class Router {
 public:
  explicit Router(std::vector<std::string> known_versions);

  // pattern: "/keypair/{keyPairId}"; each {name} matches one non-empty path segment.
  void add(std::string method, std::string pattern, ApiRange range, RouteHandler handler);
  Response dispatch(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    ApiRange range;
    RouteHandler handler;
  };
  std::vector<std::string> known_versions_;
  std::vector<Route> routes_;
};

// Response for an error value: 500s say only "internal error" (details go to the log).
Response error_response(const Error& error);
// Parses JSON with a nesting limit; errors are Unprocessable.
Result<Json> parse_json(std::string_view text);
// The request's JSON body, or 400 "missing request body".
Result<const Json*> require_body(const Request& request);

}  // namespace edge::http

namespace edge::http {
// Typed access to request JSON fields; schema errors are 422 as upstream's typed bodies.
Result<std::string> string_field(const Json& body, const char* name);
Result<std::optional<std::string>> optional_string_field(const Json& body, const char* name);
// A standard-base64 field decoded to bytes.
Result<std::string> bytes_field(const Json& body, const char* name);
Result<const Json*> object_field(const Json& body, const char* name);
}  // namespace edge::http
