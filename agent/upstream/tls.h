// The agent's TLS client (Mbed TLS, no OpenSSL: the agent idles in its own container, where
// every library page it touches is its alone). One session type serves the MQTT transport
// (non-blocking) and the blob uploads (a blocking edge::cloud::ByteStream under exchange.h).
//
// Verification: TLS >= 1.2, SNI and the host name against the certificate's DNS names (an IP
// literal against its IP addresses). The server chain is first verified against the trust
// bundle alone; only when that fails are the system roots read (SSL_CERT_FILE, and the hashed
// SSL_CERT_DIR or /etc/ssl/certs), one file at a time, keeping just the roots whose subject
// issued a certificate of the chain, and freed after the check: the ~140 public roots never
// sit on the heap for the agent's life.
#pragma once
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/cloud/exchange.h"
#include "common/result.h"

namespace agent::upstream {

struct TlsOptions {
  std::string host;              // SNI and the name the certificate must carry
  std::string trust_bundle_pem;  // trusted roots (the workload API's trust bundle)
  bool system_roots = true;      // fall back to the system's public roots
};

// A TLS client session over a connected non-blocking socket that stays the caller's.
class TlsSession {
 public:
  // Handshakes by `deadline`; `what` names the server in errors ("host:port").
  static edge::Result<std::unique_ptr<TlsSession>> connect(
      int fd, const TlsOptions& options, std::chrono::steady_clock::time_point deadline,
      const std::string& what);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Non-blocking. write_some: bytes taken (> 0), or 0 when the socket is full; after 0, call
  // again with the same leading bytes. read_some: bytes read (> 0), 0 when nothing is there now,
  // or an Unavailable error once the peer closed or the connection broke.
  edge::Result<size_t> write_some(std::string_view data);
  edge::Result<size_t> read_some(char* buf, size_t size);
  // Decrypted or received bytes not yet returned (poll() would not report them).
  bool has_buffered_input() const;
  // POLLIN or POLLOUT: what the last call that returned 0 waits for.
  short wants() const { return wants_; }
  // The peer closed (or reset) the connection: read_some's error is the end of the stream.
  bool closed() const { return closed_; }
  int fd() const { return fd_; }
  const std::string& what() const { return what_; }

  struct IpName {
    unsigned char bytes[16];
    size_t len = 0;  // 0: the host is a name
  };

 private:
  TlsSession(int fd, std::string what);
  edge::Status handshake(const TlsOptions& options, std::chrono::steady_clock::time_point deadline);
  std::string error_text(int rc) const;

  int fd_;
  std::string what_;
  mbedtls_ssl_config conf_;
  mbedtls_ssl_context ssl_;
  mbedtls_x509_crt bundle_;
  IpName ip_;                 // the host as an IP address, when it is one
  size_t pending_write_ = 0;  // a record Mbed TLS holds until the same write is retried
  short wants_ = 0;
  bool closed_ = false;
};

// A blocking stream over a session, bounded by `deadline`.
class TlsByteStream : public edge::cloud::ByteStream {
 public:
  TlsByteStream(std::unique_ptr<TlsSession> session, std::chrono::steady_clock::time_point deadline)
      : session_(std::move(session)), deadline_(deadline) {}
  edge::Status write(std::string_view data) override;
  edge::Result<size_t> read(char* buf, size_t size) override;

 private:
  std::unique_ptr<TlsSession> session_;
  std::chrono::steady_clock::time_point deadline_;
};

// request_over()'s TLS for the agent: verification as above (host from the URL).
edge::cloud::TlsConnector tls_connector(std::string trust_bundle_pem, bool system_roots = true);


}  // namespace agent::upstream
