// A small blocking HTTPS/1.1 client for calls to the cloud (DPS, IoT Hub): OpenSSL over TCP,
// server verification against the system store plus extra PEM roots, SNI, an overall deadline,
// a response size limit, optional TLS client identity, and an HTTP CONNECT proxy from
// https_proxy / HTTPS_PROXY / no_proxy done by hand (so a refused CONNECT fails at once with the
// proxy's status instead of hanging). Self-contained: no daemon state, safe to reuse. The URL,
// proxy and HTTP parts are exchange.h's; this file adds the OpenSSL stream under them.
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/cloud/exchange.h"

namespace edge::cloud {

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

// request_over() with OpenSSL (exchange.h tells the error kinds).
Result<Response> request(const std::string& method, const std::string& url,
                         const HeaderList& headers, const std::string& body,
                         const Options& options);

}  // namespace edge::cloud
