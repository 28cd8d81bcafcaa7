#include "agent/upstream/transport.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

#include "common/base64.h"

namespace agent::upstream {
using edge::ErrorKind;
using edge::fail;
using edge::Result;
using edge::Status;
using Clock = std::chrono::steady_clock;

namespace {
std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "connection reset" : out;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, static_cast<int>(left)) > 0;
}

class TlsTransport : public Transport {
 public:
  TlsTransport(int fd, SSL_CTX* ctx, SSL* ssl, std::string what)
      : fd_(fd), ctx_(ctx), ssl_(ssl), what_(std::move(what)) {}
  ~TlsTransport() override {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const override { return fd_; }
  void send(std::string_view bytes) override { out_.append(bytes); }
  Result<bool> flush() override {
    while (!out_.empty()) {
      ERR_clear_error();
      int n = SSL_write(ssl_, out_.data(), static_cast<int>(std::min<size_t>(out_.size(), 16384)));
      if (n > 0) {
        out_.erase(0, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return false;
      return fail(ErrorKind::Unavailable, "could not send to " + what_ + ": " + ssl_errors());
    }
    return true;
  }
  Status receive(std::string& into) override {
    char buf[16384];
    for (int i = 0; i < 8; ++i) {
      ERR_clear_error();
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        into.append(buf, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return {};
      if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
        if (i > 0) return {};  // hand over what came before the close; the next call reports it
        return fail(ErrorKind::Unavailable, what_ + " closed the connection");
      }
      return fail(ErrorKind::Unavailable, "could not read from " + what_ + ": " + ssl_errors());
    }
    return {};
  }
  bool has_buffered_input() const override { return SSL_pending(ssl_) > 0; }
  const std::string& what() const { return what_; }

 private:
  int fd_;
  SSL_CTX* ctx_;
  SSL* ssl_;
  std::string what_;
  std::string out_;
};

// RFC 6455 client side: binary frames, masked; answers pings; a close frame ends the stream.
class WebSocketTransport : public Transport {
 public:
  WebSocketTransport(std::unique_ptr<TlsTransport> tls, std::string leftover)
      : tls_(std::move(tls)), raw_(std::move(leftover)) {}
  int fd() const override { return tls_->fd(); }
  void send(std::string_view bytes) override { send_frame(0x2, bytes); }
  Result<bool> flush() override { return tls_->flush(); }
  bool has_buffered_input() const override { return tls_->has_buffered_input(); }
  Status receive(std::string& into) override {
    EDGE_TRY_VOID(tls_->receive(raw_));
    return decode(into);
  }
  Status decode(std::string& into) {
    for (;;) {
      if (raw_.size() < 2) return {};
      auto b0 = static_cast<uint8_t>(raw_[0]), b1 = static_cast<uint8_t>(raw_[1]);
      if (b0 & 0x70) return edge::invalid("WebSocket frame with reserved bits set");
      if (b1 & 0x80) return edge::invalid("masked WebSocket frame from the server");
      size_t len = b1 & 0x7f, pos = 2;
      if (len == 126) {
        if (raw_.size() < 4) return {};
        len = (static_cast<uint8_t>(raw_[2]) << 8) | static_cast<uint8_t>(raw_[3]);
        pos = 4;
      } else if (len == 127) {
        if (raw_.size() < 10) return {};
        len = 0;
        for (int i = 2; i < 10; ++i) {
          if (len > (kMaxWebSocketFrame >> 8)) return edge::invalid("oversized WebSocket frame");
          len = (len << 8) | static_cast<uint8_t>(raw_[static_cast<size_t>(i)]);
        }
        pos = 10;
      }
      if (len > kMaxWebSocketFrame) return edge::invalid("oversized WebSocket frame");
      if (raw_.size() < pos + len) return {};
      std::string payload = raw_.substr(pos, len);
      raw_.erase(0, pos + len);
      switch (b0 & 0x0f) {
        case 0x0:
        case 0x2:
          into += payload;
          break;
        case 0x8:
          return fail(ErrorKind::Unavailable, tls_->what() + " closed the WebSocket");
        case 0x9:
          if (payload.size() > 125) return edge::invalid("oversized WebSocket ping");
          send_frame(0xA, payload);
          break;
        case 0xA:
          break;
        default:
          return edge::invalid("unexpected WebSocket frame type " + std::to_string(b0 & 0x0f));
      }
    }
  }

 private:
  void send_frame(uint8_t opcode, std::string_view payload) {
    std::string f;
    f.push_back(static_cast<char>(0x80 | opcode));
    size_t n = payload.size();
    if (n < 126) {
      f.push_back(static_cast<char>(0x80 | n));
    } else if (n < 65536) {
      f.push_back(static_cast<char>(0x80 | 126));
      f.push_back(static_cast<char>(n >> 8));
      f.push_back(static_cast<char>(n & 0xff));
    } else {
      f.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    }
    unsigned char mask[4];
    RAND_bytes(mask, sizeof mask);
    f.append(reinterpret_cast<char*>(mask), 4);
    size_t start = f.size();
    f.append(payload);
    for (size_t i = 0; i < n; ++i) f[start + i] = static_cast<char>(f[start + i] ^ mask[i % 4]);
    tls_->send(f);
  }
  std::unique_ptr<TlsTransport> tls_;
  std::string raw_;
};

bool is_ip(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

Result<std::unique_ptr<TlsTransport>> open_tls(const TransportOptions& o,
                                               Clock::time_point deadline) {
  std::string what = o.host + ":" + std::to_string(o.port);
  std::optional<edge::cloud::Proxy> proxy = o.websocket ? o.proxy : std::nullopt;
  int fd = EDGE_TRY(edge::cloud::open_tunnel(o.host, o.port, proxy, deadline));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ::close(fd);
    return edge::internal("SSL_CTX_new: " + ssl_errors());
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (o.system_roots) SSL_CTX_set_default_verify_paths(ctx);
  if (!o.trust_bundle_pem.empty()) {
    BIO* bio =
        BIO_new_mem_buf(o.trust_bundle_pem.data(), static_cast<int>(o.trust_bundle_pem.size()));
    while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert);
      X509_free(cert);
    }
    BIO_free(bio);
    ERR_clear_error();
  }
  // SSL_new copies the context's verify mode and parameters: configure the context first.
  SSL* ssl = SSL_new(ctx);
  auto t = std::make_unique<TlsTransport>(fd, ctx, ssl, what);  // owns fd, ctx, ssl from here
  if (!ssl) return edge::internal("SSL_new: " + ssl_errors());
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_fd(ssl, fd);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip(o.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, o.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, o.host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, o.host.c_str(), 0);
  }
  for (;;) {
    ERR_clear_error();
    int r = SSL_connect(ssl);
    if (r == 1) break;
    int err = SSL_get_error(ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
        return fail(ErrorKind::Timeout, "TLS handshake with " + what + " timed out");
      continue;
    }
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK)
      return fail(ErrorKind::Unavailable, "TLS handshake with " + what +
                                              " failed: server certificate not trusted: " +
                                              X509_verify_cert_error_string(verify));
    return fail(ErrorKind::Unavailable, "TLS handshake with " + what + " failed: " + ssl_errors());
  }
  return t;
}

Result<std::unique_ptr<Transport>> upgrade(std::unique_ptr<TlsTransport> tls,
                                           const TransportOptions& o, Clock::time_point deadline) {
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  std::string key =
      edge::base64::encode(std::string_view(reinterpret_cast<char*>(nonce), sizeof nonce));
  std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
  if (o.port != 443) host += ":" + std::to_string(o.port);
  tls->send("GET /$iothub/websocket HTTP/1.1\r\nHost: " + host +
            "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
            "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
  std::string in;
  size_t end;
  for (;;) {
    auto done = EDGE_TRY(tls->flush());
    EDGE_TRY_VOID(tls->receive(in));
    if ((end = in.find("\r\n\r\n")) != std::string::npos) break;
    if (in.size() > 16384)
      return edge::invalid(tls->what() + " sent an oversized WebSocket answer");
    if (!tls->has_buffered_input() &&
        !wait_fd(tls->fd(), static_cast<short>(done ? POLLIN : POLLIN | POLLOUT), deadline))
      return fail(ErrorKind::Timeout, "WebSocket upgrade with " + tls->what() + " timed out");
  }
  std::string head = in.substr(0, end);
  std::string lower = head;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!head.starts_with("HTTP/1.1 101"))
    return fail(ErrorKind::Unavailable, tls->what() + " refused the WebSocket upgrade: " +
                                            head.substr(0, head.find("\r\n")));
  unsigned char digest[20];
  std::string accept_src = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  EVP_Digest(accept_src.data(), accept_src.size(), digest, nullptr, EVP_sha1(), nullptr);
  std::string accept = edge::base64::encode(std::string_view(reinterpret_cast<char*>(digest), 20));
  std::string accept_lower = accept;
  for (auto& c : accept_lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("\r\nsec-websocket-accept: " + accept_lower) == std::string::npos)
    return edge::invalid(tls->what() +
                         " answered the WebSocket upgrade without the right Sec-WebSocket-Accept");
  auto ws = std::make_unique<WebSocketTransport>(std::move(tls), in.substr(end + 4));
  return std::unique_ptr<Transport>(std::move(ws));
}
}  // namespace

Result<std::unique_ptr<Transport>> open_transport(const TransportOptions& options) {
  auto deadline = Clock::now() + options.timeout;
  auto tls = EDGE_TRY(open_tls(options, deadline));
  if (!options.websocket) return std::unique_ptr<Transport>(std::move(tls));
  return upgrade(std::move(tls), options, deadline);
}

}  // namespace agent::upstream
