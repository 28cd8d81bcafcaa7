#include "emulator/front.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>

#include "common/log.h"
#include "emulator/hub.h"
#include "emulator/mqtt_connect.h"
#include "emulator/rest.h"

namespace emulator {
namespace {

// An httplib stream over an accepted TLS connection, replaying the bytes we already read
// while deciding where the connection goes.
class TlsStream : public httplib::Stream {
 public:
  TlsStream(SSL* ssl, int fd, std::string prefix)
      : ssl_(ssl), fd_(fd), prefix_(std::move(prefix)) {}
  bool wait_readable(int timeout_ms) const {
    if (pos_ < prefix_.size() || SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) > 0;
  }
  bool is_readable() const override { return wait_readable(30000); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < prefix_.size()) {
      size_t n = std::min(size, prefix_.size() - pos_);
      std::memcpy(ptr, prefix_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!is_readable()) return -1;
    int n = SSL_read(ssl_, ptr, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    return n > 0 ? n : -1;
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    while (done < size) {
      int n = SSL_write(ssl_, ptr + done, static_cast<int>(std::min<size_t>(size - done, 1 << 30)));
      if (n <= 0) return -1;
      done += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address(ip, port, true);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address(ip, port, false);
  }
  socket_t socket() const override { return fd_; }

 private:
  void address(std::string& ip, int& port, bool peer) const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if ((peer ? getpeername : getsockname)(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
      return;
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
      port = ntohs(a->sin_port);
    }
    ip = buf;
  }
  SSL* ssl_;
  int fd_;
  std::string prefix_;
  size_t pos_ = 0;
};

// httplib's request processing driven over our own TLS connections.
class RestServer : public httplib::Server {
 public:
  void serve(TlsStream& stream, SSL* ssl) {
    bool closed = false;
    for (int i = 0; i < 1000 && !closed; ++i) {
      if (i > 0 && !stream.wait_readable(60000)) break;
      if (!process_request(stream, false, closed, [&](httplib::Request& r) {
            r.ssl = ssl;
            discard_unexpected_body(stream, r);
          }))
        break;
    }
  }

 private:
  // The Azure SDKs send "{}" with GET requests. cpp-httplib 0.11 reads bodies only for
  // POST/PUT/PATCH/DELETE and would parse the leftover bytes as the next request line.
  static void discard_unexpected_body(TlsStream& stream, const httplib::Request& r) {
    if (r.method != "GET" && r.method != "HEAD" && r.method != "OPTIONS") return;
    char buf[4096];
    auto skip = [&](size_t n) {
      while (n > 0) {
        ssize_t got = stream.read(buf, std::min(n, sizeof buf));
        if (got <= 0) return false;
        n -= static_cast<size_t>(got);
      }
      return true;
    };
    auto line = [&]() {
      std::string l;
      char c;
      while (stream.read(&c, 1) == 1 && c != '\n') l.push_back(c);
      return l;
    };
    if (r.get_header_value("Transfer-Encoding") == "chunked") {
      for (;;) {
        size_t n = std::strtoul(line().c_str(), nullptr, 16);
        if (n == 0) {
          line();  // final CRLF (no trailers from these clients)
          return;
        }
        if (!skip(n + 2)) return;
      }
    }
    if (size_t n = std::strtoul(r.get_header_value("Content-Length").c_str(), nullptr, 10); n > 0)
      skip(n);
  }
};

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool write_all(int fd, const std::string& data) {
  for (size_t done = 0; done < data.size();) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w <= 0) return false;
    done += static_cast<size_t>(w);
  }
  return true;
}

// Copies bytes both ways between the TLS client and a plain backend until either side closes.
void pump(SSL* ssl, int client_fd, int backend_fd) {
  char buf[16384];
  for (;;) {
    if (SSL_pending(ssl) <= 0) {
      pollfd p[2] = {{client_fd, POLLIN, 0}, {backend_fd, POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0) return;  // idle clients are the broker's business (keepalive)
      if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::read(backend_fd, buf, sizeof buf);
        if (n <= 0 || SSL_write(ssl, buf, static_cast<int>(n)) <= 0) return;
      }
      if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    }
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) {
      int err = SSL_get_error(ssl, n);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;
      return;
    }
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(backend_fd, buf + done, static_cast<size_t>(n - done));
      if (w <= 0) return;
      done += w;
    }
  }
}

}  // namespace

struct Front::Impl {
  Hub& hub;
  FrontConfig config;
  SSL_CTX* ctx = nullptr;
  int https_fd = -1;
  int mqtt_fd = -1;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::mutex fds_mu;
  std::set<int> open_fds;  // accepted connections, shut down on stop()
  std::thread acceptor;
  RestServer rest;

  Impl(Hub& h, FrontConfig c) : hub(h), config(std::move(c)) {}

  void handle(int fd, bool mqtt) {
    {
      std::lock_guard lock(fds_mu);
      open_fds.insert(fd);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
      tv = {0, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      if (mqtt)
        relay_mqtt(ssl, fd);
      else
        dispatch(ssl, fd);
      SSL_shutdown(ssl);
    }
    ERR_clear_error();
    SSL_free(ssl);
    {
      std::lock_guard lock(fds_mu);
      open_fds.erase(fd);
      ::close(fd);
    }
    active--;
  }

  void dispatch(SSL* ssl, int fd) {
    // Read the request head to see where this connection goes.
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 64 * 1024) {
      pollfd p{fd, POLLIN, 0};
      if (SSL_pending(ssl) <= 0 && ::poll(&p, 1, 30000) <= 0) return;
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return;
      head.append(buf, static_cast<size_t>(n));
    }
    size_t sp = head.find(' ');
    std::string target =
        sp == std::string::npos ? "" : head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
    if (target.starts_with("/$iothub/websocket") || target.starts_with("/%24iothub/websocket")) {
      int backend =
          config.websocket_backend_port ? connect_loopback(config.websocket_backend_port) : -1;
      if (backend < 0) {
        static const char kUnavailable[] =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        SSL_write(ssl, kUnavailable, sizeof kUnavailable - 1);
        return;
      }
      if (write_all(backend, head)) pump(ssl, fd, backend);
      ::close(backend);
      return;
    }
    TlsStream stream(ssl, fd, std::move(head));
    rest.serve(stream, ssl);
  }

  // MQTT over TLS: read the CONNECT, attach the client certificate's session, relay the rest.
  void relay_mqtt(SSL* ssl, int fd) {
    std::string first;
    char buf[4096];
    std::optional<size_t> len = 0;
    while ((len = mqtt::packet_length(first)) && *len == 0 && first.size() < 256 * 1024) {
      pollfd p{fd, POLLIN, 0};
      if (SSL_pending(ssl) <= 0 && ::poll(&p, 1, 30000) <= 0) return;
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n <= 0) return;
      first.append(buf, static_cast<size_t>(n));
      if ((static_cast<unsigned char>(first[0]) & 0xf0) != 0x10)
        return;  // the first packet must be CONNECT
    }
    if (!len || *len == 0) return;  // not MQTT: close, as the broker would
    std::string connect = first.substr(0, *len), after = first.substr(*len);
    if (X509* cert = SSL_get0_peer_certificate(ssl)) {
      std::string session = hub.register_certificate_session(cert, SSL_get_peer_cert_chain(ssl));
      if (auto with_password = mqtt::add_password(connect, mqtt::kCertSessionPrefix + session))
        connect = *with_password;
    }
    int backend = connect_loopback(config.mqtt_backend_port);
    if (backend < 0) return;
    if (write_all(backend, connect + after)) pump(ssl, fd, backend);
    ::close(backend);
  }

  void accept_loop() {
    while (!stopping) {
      pollfd p[2] = {{https_fd, POLLIN, 0}, {mqtt_fd, POLLIN, 0}};
      if (::poll(p, mqtt_fd >= 0 ? 2 : 1, 200) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & POLLIN)) continue;
        int fd = ::accept4(p[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        active++;
        std::thread([this, fd, i] { handle(fd, i == 1); }).detach();
      }
    }
  }

  edge::Result<int> listen_on(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, config.bind.c_str(), &a.sin_addr) != 1) {
      ::close(fd);
      return edge::invalid("bad bind address " + config.bind);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 128) != 0) {
      std::string why = std::strerror(errno);
      ::close(fd);
      return edge::fail(edge::ErrorKind::Unavailable, "cannot listen on " + config.bind + ":" +
                                                          std::to_string(port) + ": " + why);
    }
    return fd;
  }
};

Front::Front(Hub& hub, FrontConfig config)
    : impl_(std::make_unique<Impl>(hub, std::move(config))) {}
Front::~Front() { stop(); }

edge::Status Front::start() {
  auto& I = *impl_;
  I.ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_set_min_proto_version(I.ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(I.ctx, I.config.cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(I.ctx, I.config.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return edge::internal("cannot load the server certificate or key");
  // Ask for a client certificate, accept any: DPS and the hub check it against enrollments.
  SSL_CTX_set_verify(I.ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  static const unsigned char kSessionContext[] = "iothub-emulator";
  SSL_CTX_set_session_id_context(I.ctx, kSessionContext, sizeof kSessionContext - 1);
  install_routes(I.rest, I.hub, RestSettings{I.config.ca_file, I.config.ca_key_file});

  I.https_fd = EDGE_TRY(I.listen_on(I.config.port));
  if (I.config.mqtt_port) I.mqtt_fd = EDGE_TRY(I.listen_on(I.config.mqtt_port));
  I.acceptor = std::thread([&I] { I.accept_loop(); });
  return {};
}

void Front::stop() {
  if (!impl_) return;
  auto& I = *impl_;
  I.stopping = true;
  if (I.acceptor.joinable()) I.acceptor.join();
  for (int* fd : {&I.https_fd, &I.mqtt_fd})
    if (*fd >= 0) ::close(std::exchange(*fd, -1));
  {  // wake every connection thread: their sockets fail and they finish
    std::lock_guard lock(I.fds_mu);
    for (int fd : I.open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  for (int i = 0; i < 40 && I.active > 0; ++i) ::usleep(50000);
  if (I.active == 0 && I.ctx) {
    SSL_CTX_free(I.ctx);
    I.ctx = nullptr;
  }
}

}  // namespace emulator
