#include "common/http/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/http/router.h"

namespace edge::http {

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

Result<Json> ClientResponse::json() const { return parse_json(body); }

std::string ClientResponse::message() const {
  auto j = json();
  if (j && j->is_object() && j->contains("message") && (*j)["message"].is_string())
    return (*j)["message"].get<std::string>();
  return body;
}

UnixClient::UnixClient(std::string socket_path, std::chrono::milliseconds timeout)
    : path_(std::move(socket_path)), timeout_(timeout) {}
UnixClient::~UnixClient() = default;
UnixClient::UnixClient(UnixClient&&) noexcept = default;

Status UnixClient::connect() {
  int fd = connect_unix(path_);
  if (fd < 0)
    return fail(ErrorKind::Unavailable, "could not connect to " + path_ + ": " + std::strerror(errno));
  conn_ = std::make_unique<Connection>(fd);
  return {};
}

Result<ClientResponse> UnixClient::request(const std::string& method, const std::string& target,
                                           const std::optional<Json>& body,
                                           const Headers& extra_headers) {
  return request_raw(method, target, body ? body->dump() : std::string(),
                     body ? "application/json" : "", extra_headers);
}

std::string UnixClient::wire_format(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& content_type,
                                    const Headers& extra_headers) {
  std::string wire = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  if (!content_type.empty()) wire += "Content-Type: " + content_type + "\r\n";
  for (const auto& [k, v] : extra_headers) wire += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  wire += "\r\n" + body;
  return wire;
}

Result<ClientResponse> UnixClient::stream(const std::string& method, const std::string& target,
                                          const std::string& body, const std::string& content_type,
                                          const Headers& extra_headers,
                                          const std::function<bool(std::string_view)>& on_data,
                                          std::chrono::milliseconds idle) {
  conn_.reset();  // a stream gets a connection of its own and does not keep it
  auto r = exchange(wire_format(method, target, body, content_type, extra_headers), &on_data, idle);
  conn_.reset();
  return r;
}

Result<ClientResponse> UnixClient::request_raw(const std::string& method,
                                               const std::string& target, const std::string& body,
                                               const std::string& content_type,
                                               const Headers& extra_headers) {
  std::string wire = wire_format(method, target, body, content_type, extra_headers);
  bool reused = conn_ != nullptr;
  auto r = exchange(wire);
  // A kept-alive connection may have been closed by the server between requests: retry once.
  if (!r && reused && r.error().kind == ErrorKind::Unavailable) {
    conn_.reset();
    r = exchange(wire);
  }
  if (!r) conn_.reset();
  return r;
}

Result<ClientResponse> UnixClient::exchange(const std::string& wire,
                                            const std::function<bool(std::string_view)>* on_data,
                                            std::chrono::milliseconds idle) {
  if (!conn_) EDGE_TRY_VOID(connect());
  if (!conn_->write_all(wire)) return fail(ErrorKind::Unavailable, "could not send to " + path_);
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  Limits limits;
  limits.max_body = 64 * 1024 * 1024;
  auto head = EDGE_TRY(conn_->read_head(limits, deadline));
  ClientResponse resp;
  const auto& line = head[0];
  if (line.size() < 12 || !line.starts_with("HTTP/1."))
    return fail(ErrorKind::Unavailable, "malformed response from " + path_);
  resp.status = std::atoi(line.c_str() + 9);
  resp.headers = EDGE_TRY(parse_header_lines(head, 1, limits));
  bool no_body = resp.status == 204 || resp.status == 304;
  const auto* conn_hdr = find_header(resp.headers, "connection");
  bool close = conn_hdr && strcasecmp(conn_hdr->c_str(), "close") == 0;
  if (!no_body && on_data && resp.status >= 200 && resp.status < 300) {
    EDGE_TRY_VOID(conn_->stream_body(resp.headers, idle, *on_data));
    return resp;
  }
  if (!no_body) {
    bool until_close = !find_header(resp.headers, "content-length") &&
                       !find_header(resp.headers, "transfer-encoding");
    resp.body = EDGE_TRY(conn_->read_body(resp.headers, limits, deadline, until_close));
    if (until_close) close = true;
  }
  if (close) conn_.reset();
  return resp;
}

}  // namespace edge::http
