// Route handlers that answer failures as upstream's edged does: the error's own message, with a
// status from its kind; a dependency that is unavailable (the engine, keyd) is a 500.
#pragma once
#include "common/http/router.h"
#include "common/result.h"

namespace edged {

inline int error_status(const edge::Error& e) {
  return e.kind == edge::ErrorKind::Unavailable ? 500 : edge::http_status(e.kind);
}

// `status` maps a failure to its HTTP status (default: error_status).
template <class F, class Status = int (*)(const edge::Error&)>
edge::http::RouteHandler expose(F f, Status status = &error_status) {
  return [f, status](edge::http::Request& r) -> edge::Result<edge::http::Response> {
    auto result = f(r);
    if (!result) return edge::http::Response::error(status(result.error()), result.error().message);
    return result;
  };
}

}  // namespace edged
