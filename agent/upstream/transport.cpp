#include "agent/upstream/transport.h"

#include <mbedtls/sha1.h>
#include <poll.h>
#include <unistd.h>

#include "agent/upstream/tls.h"
#include "common/base64.h"
#include "common/random.h"

namespace agent::upstream {
using edge::ErrorKind;
using edge::fail;
using edge::Result;
using edge::Status;
using Clock = std::chrono::steady_clock;

namespace {
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  return edge::cloud::wait_fd(fd, events, deadline);
}

class TlsTransport : public Transport {
 public:
  TlsTransport(int fd, std::unique_ptr<TlsSession> session)
      : fd_(fd), session_(std::move(session)) {}
  ~TlsTransport() override {
    session_.reset();  // its close_notify goes out before the socket closes
    ::close(fd_);
  }
  int fd() const override { return fd_; }
  void send(std::string_view bytes) override { out_.append(bytes); }
  Result<bool> flush() override {
    while (!out_.empty()) {
      auto n = EDGE_TRY(session_->write_some(out_));  // same leading bytes on a retry
      if (n == 0) return false;
      out_.erase(0, n);
    }
    return true;
  }
  Status receive(std::string& into) override {
    char buf[16384];
    for (int i = 0; i < 8; ++i) {
      auto n = session_->read_some(buf, sizeof buf);
      if (!n) {
        if (session_->closed() && i > 0) return {};  // hand over what came first; next call fails
        return std::unexpected(n.error());
      }
      if (*n == 0) return {};
      into.append(buf, *n);
    }
    return {};
  }
  bool has_buffered_input() const override { return session_->has_buffered_input(); }
  const std::string& what() const { return session_->what(); }

 private:
  int fd_;
  std::unique_ptr<TlsSession> session_;
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
    edge::fill_random(mask, sizeof mask);
    f.append(reinterpret_cast<char*>(mask), 4);
    size_t start = f.size();
    f.append(payload);
    for (size_t i = 0; i < n; ++i) f[start + i] = static_cast<char>(f[start + i] ^ mask[i % 4]);
    tls_->send(f);
  }
  std::unique_ptr<TlsTransport> tls_;
  std::string raw_;
};

Result<std::unique_ptr<TlsTransport>> open_tls(const TransportOptions& o,
                                               Clock::time_point deadline) {
  std::string what = o.host + ":" + std::to_string(o.port);
  std::optional<edge::cloud::Proxy> proxy = o.websocket ? o.proxy : std::nullopt;
  int fd = EDGE_TRY(edge::cloud::open_tunnel(o.host, o.port, proxy, deadline));
  auto session = TlsSession::connect(fd, TlsOptions{o.host, o.trust_bundle_pem, o.system_roots},
                                     deadline, what);
  if (!session) {
    ::close(fd);
    return std::unexpected(session.error());
  }
  return std::make_unique<TlsTransport>(fd, std::move(*session));
}

Result<std::unique_ptr<Transport>> upgrade(std::unique_ptr<TlsTransport> tls,
                                           const TransportOptions& o, Clock::time_point deadline) {
  unsigned char nonce[16];
  if (!edge::fill_random(nonce, sizeof nonce))
    return edge::internal("no randomness for the WebSocket key");
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
  mbedtls_sha1_ret(reinterpret_cast<const unsigned char*>(accept_src.data()), accept_src.size(),
                   digest);
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
