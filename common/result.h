// Errors as values: Result<T> is std::expected<T, Error>; Error kinds map 1:1 to HTTP statuses.
#pragma once
#include <expected>
#include <string>
#include <utility>

namespace edge {

enum class ErrorKind {
  InvalidParameter,  // 400
  Unauthorized,      // 401
  Forbidden,         // 403
  NotFound,          // 404
  Conflict,          // 409
  Timeout,           // 408
  PayloadTooLarge,   // 413
  Unsupported,       // 415 / 501 depending on the caller
  Unprocessable,     // 422
  Unavailable,       // 503: a dependency (daemon, device, network) did not answer
  Internal,          // 500
};

struct Error {
  ErrorKind kind = ErrorKind::Internal;
  std::string message;

  // Prefixes context: "outer: inner".
  [[nodiscard]] Error context(const std::string& outer) const {
    return Error{kind, outer + ": " + message};
  }
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected(Error{kind, std::move(message)});
}
inline std::unexpected<Error> fail(Error e) { return std::unexpected(std::move(e)); }
inline std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::InvalidParameter, std::move(message));
}
inline std::unexpected<Error> internal(std::string message) {
  return fail(ErrorKind::Internal, std::move(message));
}

int http_status(ErrorKind kind);

}  // namespace edge

// Propagates an error from an expression yielding Result/Status; evaluates to the value.
// (A GNU statement expression; each use gets its own variable name so uses can nest.)
#define EDGE_CONCAT_(a, b) a##b
#define EDGE_CONCAT(a, b) EDGE_CONCAT_(a, b)
#define EDGE_TRY(expr) EDGE_TRY_IMPL_(expr, EDGE_CONCAT(edge_try_, __COUNTER__))
#define EDGE_TRY_IMPL_(expr, var)                \
  ({                                             \
    auto&& var = (expr);                         \
    if (!var) return std::unexpected(var.error()); \
    std::move(var).value();                      \
  })
#define EDGE_TRY_VOID(expr) EDGE_TRY_VOID_IMPL_(expr, EDGE_CONCAT(edge_try_, __COUNTER__))
#define EDGE_TRY_VOID_IMPL_(expr, var)           \
  do {                                           \
    auto&& var = (expr);                         \
    if (!var) return std::unexpected(var.error()); \
  } while (0)
