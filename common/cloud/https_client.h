// A small blocking HTTPS/1.1 client for calls to the cloud (DPS, IoT Hub): OpenSSL over TCP,
// server verification against the system store plus extra PEM roots, SNI, an overall deadline,
// a response size limit, optional TLS client identity, and an HTTP CONNECT proxy from
// https_proxy / HTTPS_PROXY / no_proxy done by hand (so a refused CONNECT fails at once with the
// proxy's status instead of hanging). Self-contained: no daemon state, safe to reuse.
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
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

// A TLS client identity; the key may be backed by anything OpenSSL can sign with.
struct ClientIdentity {
  std::vector<X509*> chain;  // leaf first; owned by the caller, must outlive the request
  EVP_PKEY* key = nullptr;
};

struct Options {
  std::chrono::milliseconds timeout{
      30000};  // whole exchange: connect, proxy, TLS, request, response
  size_t max_response = kDefaultMaxResponse;
  bool system_roots = true;     // OpenSSL default paths (honours SSL_CERT_FILE / SSL_CERT_DIR)
  std::string extra_roots_pem;  // more trusted roots, e.g. a trust bundle
  std::optional<ClientIdentity> identity;
  // Unset: from the environment (proxy_from_env). Set to nullopt-in-optional to force direct.
  std::optional<std::optional<Proxy>> proxy;
};

struct Response {
  int status = 0;
  HeaderList headers;  // names lower-cased
  std::string body;
  const std::string* header(std::string_view name) const;
};

// Error kinds: Unavailable = could not reach the server (DNS, connect, proxy refusal, TLS
// handshake or verification); Timeout = deadline passed; PayloadTooLarge = response over the
// limit; InvalidParameter = bad URL / malformed response.
Result<Response> request(const std::string& method, const std::string& url,
                         const HeaderList& headers, const std::string& body,
                         const Options& options);

// A connected non-blocking TCP socket to host:port, through `proxy` (HTTP CONNECT, Basic
// credentials) when set, for protocols other than HTTPS requests (MQTT). The caller owns the fd.
Result<int> open_tunnel(const std::string& host, uint16_t port, const std::optional<Proxy>& proxy,
                        std::chrono::steady_clock::time_point deadline);

}  // namespace edge::cloud
