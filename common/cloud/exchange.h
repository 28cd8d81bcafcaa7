// The TLS-independent half of the cloud HTTPS client: https:// URLs, HTTP CONNECT proxies from
// the environment, the TCP tunnel, and one HTTP/1.1 exchange (request written, response read
// with an overall deadline and size limits) over a ByteStream that some TLS library provides.
// https_client.h puts OpenSSL under it (identityd, the cli); the agent puts Mbed TLS under it.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/secret.h"

namespace edge::cloud {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kDefaultMaxResponse = 4 * 1024 * 1024;
constexpr size_t kMaxResponseHead = 32 * 1024;

struct Url {
  std::string host;  // without brackets
  uint16_t port = 443;
  std::string target = "/";  // path?query as sent
};
// https://host[:port][/path][?query]; user-info and other schemes are rejected.
Result<Url> parse_https_url(std::string_view text);

struct Proxy {
  std::string host;
  uint16_t port = 8080;
  std::optional<std::string> user;
  std::optional<Secret> password;
  std::string display() const { return host + ":" + std::to_string(port); }  // never the password
};
// "http://[user:password@]host[:port][/]" (also "https://" or no scheme, as curl and paho accept);
// user and password may be percent-encoded.
Result<Proxy> parse_proxy(std::string_view text);
// Does a no_proxy list ("a.example,.b.example,*,10.0.0.1") exempt `host`?
bool no_proxy_matches(std::string_view no_proxy, std::string_view host);
// The proxy for `host` from https_proxy / HTTPS_PROXY (that order) and no_proxy / NO_PROXY,
// or nullopt. A malformed proxy variable is an error, not a silent direct connection.
Result<std::optional<Proxy>> proxy_from_env(std::string_view host);
// Is `host` an IPv4 or IPv6 literal (certificate checks then match IP addresses, and no SNI)?
bool is_ip_literal(const std::string& host);

struct Response {
  int status = 0;
  HeaderList headers;  // names lower-cased
  std::string body;
  const std::string* header(std::string_view name) const;
};

// A connected stream (TLS over the tunnel) that blocks until its deadline.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Writes all of `data`.
  virtual Status write(std::string_view data) = 0;
  // Reads what is there, waiting for something: the byte count, or 0 at the end of the stream.
  virtual Result<size_t> read(char* buf, size_t size) = 0;
};

// Starts TLS for `url` over the connected non-blocking socket `fd` (which stays the caller's and
// outlives the stream): server verification, SNI and the host-name check are the connector's.
using TlsConnector = std::function<Result<std::unique_ptr<ByteStream>>(
    int fd, const Url& url, std::chrono::steady_clock::time_point deadline)>;

struct ExchangeOptions {
  std::chrono::milliseconds timeout{
      30000};  // whole exchange: connect, proxy, TLS, request, response
  size_t max_response = kDefaultMaxResponse;
  // Unset: from the environment (proxy_from_env). Set to nullopt-in-optional to force direct.
  std::optional<std::optional<Proxy>> proxy;
};

// One HTTPS request with "Connection: close". Error kinds: Unavailable = could not reach the
// server (DNS, connect, proxy refusal, TLS handshake or verification); Timeout = deadline passed;
// PayloadTooLarge = response over the limit; InvalidParameter = bad URL / malformed response.
Result<Response> request_over(const TlsConnector& tls, const std::string& method,
                              const std::string& url, const HeaderList& headers,
                              const std::string& body, const ExchangeOptions& options);

// The HTTP/1.1 exchange alone over an open stream (`what` names the server in errors).
Result<Response> exchange(ByteStream& stream, const std::string& method, const Url& url,
                          const HeaderList& headers, const std::string& body, size_t max_response,
                          const std::string& what);

// A connected non-blocking TCP socket to host:port, through `proxy` (HTTP CONNECT, Basic
// credentials) when set, for protocols other than HTTPS requests (MQTT). The caller owns the fd.
Result<int> open_tunnel(const std::string& host, uint16_t port, const std::optional<Proxy>& proxy,
                        std::chrono::steady_clock::time_point deadline);

// Waits for `events` (POLLIN / POLLOUT) on fd; false when the deadline passed first.
bool wait_fd(int fd, short events, std::chrono::steady_clock::time_point deadline);

}  // namespace edge::cloud
