#include "common/http/server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/log.h"

namespace edge::http {
namespace {
using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    auto p = s.find(sep, start);
    out.push_back(s.substr(start, p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

int status_for(const Error& e) {
  switch (e.kind) {
    case ErrorKind::Timeout: return 408;
    case ErrorKind::PayloadTooLarge: return 413;
    case ErrorKind::Unsupported: return 501;
    default: return 400;
  }
}
}  // namespace

Result<int> systemd_socket(const std::string& name) {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  if (!pid || !fds || std::atoi(pid) != ::getpid())
    return invalid("socket activation requested for " + name + " but LISTEN_FDS is not for us");
  int n = std::atoi(fds);
  if (n <= 0) return invalid("LISTEN_FDS has no sockets");
  for (int i = 0; i < n; ++i) ::fcntl(3 + i, F_SETFD, FD_CLOEXEC);
  if (n == 1) return 3;
  const char* names = std::getenv("LISTEN_FDNAMES");
  if (!names) return invalid("several sockets passed but LISTEN_FDNAMES is not set");
  auto list = split(names, ':');
  for (size_t i = 0; i < list.size() && static_cast<int>(i) < n; ++i)
    if (list[i] == name) return 3 + static_cast<int>(i);
  return invalid("no socket named " + name + " in LISTEN_FDNAMES");
}

bool socket_activated() {
  const char* pid = std::getenv("LISTEN_PID");
  const char* fds = std::getenv("LISTEN_FDS");
  return pid && fds && std::atoi(pid) == ::getpid() && std::atoi(fds) > 0;
}

Server::Server(Handler handler, ServerOptions options)
    : handler_(std::move(handler)), options_(std::move(options)) {}

Server::~Server() {
  stop();
  // Connection threads refer to this object: wait until they are gone.
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [this] { return connections_.empty(); });
  lock.unlock();
  for (int fd : listen_fds_) ::close(fd);
}

Status Server::listen(const uri::Endpoint& endpoint) {
  bool adopt = endpoint.kind == uri::Endpoint::Kind::Fd ||
               (!options_.systemd_name.empty() && socket_activated());
  if (adopt) {
    int fd = EDGE_TRY(systemd_socket(endpoint.kind == uri::Endpoint::Kind::Fd ? endpoint.value
                                                                               : options_.systemd_name));
    listen_fds_.push_back(fd);
    adopted_fds_.insert(fd);
    return {};
  }
  const std::string& path = endpoint.value;
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return invalid("socket path too long: " + path);
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      ::rmdir(path.c_str());
    else
      ::unlink(path.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return internal(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::chmod(path.c_str(), options_.socket_mode) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    return internal("could not listen on " + path + ": " + std::strerror(err));
  }
  listen_fds_.push_back(fd);
  socket_paths_.push_back(path);
  return {};
}

void Server::run() {
  std::vector<std::thread> extra;
  for (size_t i = 1; i < listen_fds_.size(); ++i)
    extra.emplace_back([this, fd = listen_fds_[i]] { accept_loop(fd); });
  if (!listen_fds_.empty()) accept_loop(listen_fds_[0]);
  for (auto& t : extra) t.join();
}

void Server::stop() {
  if (stopping_.exchange(true)) return;
  // A shut-down listening socket refuses connections for every holder of it, also systemd,
  // which hands it to the next start: adopted sockets are only left (the accept loop polls).
  for (int fd : listen_fds_)
    if (!adopted_fds_.contains(fd)) ::shutdown(fd, SHUT_RDWR);
  for (const auto& p : socket_paths_) ::unlink(p.c_str());
  std::lock_guard lock(mutex_);
  for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
}

bool Server::try_acquire(uid_t uid) {
  std::lock_guard lock(mutex_);
  auto& n = active_[uid];
  if (n >= options_.max_requests_per_uid) return false;
  ++n;
  return true;
}

void Server::accept_loop(int listen_fd) {
  while (!stopping_) {
    pollfd p{listen_fd, POLLIN, 0};
    int r = ::poll(&p, 1, 500);
    if (r <= 0) continue;
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(fd);
      continue;
    }
    PeerCred peer{cred.pid, cred.uid, cred.gid};
    if (!try_acquire(peer.uid)) {
      log::warn("Max simultaneous connections reached for user " + std::to_string(peer.uid));
      ::close(fd);
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      connections_.insert(fd);
    }
    std::thread([this, fd, peer] {
      serve_connection(fd, peer);
      std::lock_guard lock(mutex_);
      connections_.erase(fd);
      ::close(fd);  // after erase, so stop() never shuts down a reused fd number
      if (--active_[peer.uid] == 0) active_.erase(peer.uid);
      drained_.notify_all();
    }).detach();
  }
}

void Server::serve_connection(int fd, PeerCred peer) {
  Connection conn(fd);
  struct Release {
    Connection& c;
    ~Release() { c.release(); }
  } keep_open{conn};
  const auto& limits = options_.limits;
  for (;;) {
    if (!conn.wait_readable(options_.idle_timeout) || stopping_) return;
    auto deadline = Clock::now() + limits.read_timeout;
    auto reply_error = [&](int status, const std::string& message) {
      Response r = Response::error(status, message);
      conn.write_all(serialize_head(status, r, false, false) + r.body);
    };
    auto head = conn.read_head(limits, deadline);
    if (!head) {
      if (head.error().kind != ErrorKind::Unavailable)
        reply_error(status_for(head.error()), head.error().message);
      return;
    }
    Request req;
    req.peer = peer;
    const std::string& line = (*head)[0];
    auto sp1 = line.find(' ');
    auto sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) return reply_error(400, "malformed request line");
    req.method = line.substr(0, sp1);
    req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string version = line.substr(sp2 + 1);
    if (version != "HTTP/1.1" && version != "HTTP/1.0")
      return reply_error(400, "unsupported HTTP version");
    if (req.target.empty() || req.target[0] != '/') return reply_error(400, "malformed request target");
    auto headers = parse_header_lines(*head, 1, limits);
    if (!headers) return reply_error(status_for(headers.error()), headers.error().message);
    req.headers = std::move(*headers);
    auto body = conn.read_body(req.headers, limits, deadline);
    if (!body) {
      if (body.error().kind != ErrorKind::Unavailable)
        reply_error(status_for(body.error()), body.error().message);
      return;
    }
    req.body = std::move(*body);
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) {
      auto query = uri::parse_query(std::string_view(req.target).substr(q + 1));
      if (!query) return reply_error(400, query.error().message);
      req.query = std::move(*query);
    }
    bool keep_alive = version == "HTTP/1.1";
    if (const auto* c = req.header("connection")) {
      if (strcasecmp(c->c_str(), "close") == 0) keep_alive = false;
      if (strcasecmp(c->c_str(), "keep-alive") == 0) keep_alive = true;
    }
    Response resp = handler_(req);
    if (resp.stream) {
      if (!conn.write_all(serialize_head(resp.status, resp, false, true))) return;
      bool ok = true;
      resp.stream([&](std::string_view chunk) {
        if (!ok || chunk.empty()) return ok;
        char size[32];
        int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
        std::string frame(size, static_cast<size_t>(n));
        frame.append(chunk);
        frame += "\r\n";
        ok = conn.write_all(frame);
        return ok;
      });
      if (ok) conn.write_all("0\r\n\r\n");
      return;
    }
    std::string out = serialize_head(resp.status, resp, keep_alive, false);
    out += resp.body;
    bool written = conn.write_all(out);
    if (resp.after_sent) resp.after_sent();
    if (!written || !keep_alive) return;
  }
}

}  // namespace edge::http
