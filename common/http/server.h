// HTTP/1.1 server on Unix sockets: unix:// paths or systemd-activated fd:// sockets,
// caller credentials from SO_PEERCRED, a per-uid concurrent-connection cap, bounded input.
#pragma once
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <set>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/http/message.h"
#include "common/uri.h"

namespace edge::http {

using Handler = std::function<Response(Request&)>;

struct ServerOptions {
  size_t max_requests_per_uid = 10;  // concurrent connections; excess closed without a reply
  mode_t socket_mode = 0660;
  Limits limits;
  std::chrono::milliseconds idle_timeout{60000};  // keep-alive wait for the next request
  // When systemd passed sockets to this process (LISTEN_PID/LISTEN_FDS), a unix:// endpoint
  // adopts the one with this name instead of binding: the same config works under systemd.
  std::string systemd_name;
};

class Server {
 public:
  Server(Handler handler, ServerOptions options);
  ~Server();

  // Binds (or adopts from systemd) the endpoint; call before run().
  Status listen(const uri::Endpoint& endpoint);
  // Serves until stop(); blocks the calling thread.
  void run();
  void stop();

 private:
  void accept_loop(int listen_fd);
  void serve_connection(int fd, PeerCred peer);  // does not close fd
  bool try_acquire(uid_t uid);

  Handler handler_;
  ServerOptions options_;
  std::vector<int> listen_fds_;
  std::set<int> adopted_fds_;  // systemd's sockets: never shut down (systemd passes them again)
  std::vector<std::string> socket_paths_;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::map<uid_t, size_t> active_;
  std::set<int> connections_;  // open connection fds, shut down by stop()
  std::condition_variable drained_;
};

// Systemd socket activation: the fd passed for `name` (LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES).
// With a single passed fd its name is not checked, as upstream.
Result<int> systemd_socket(const std::string& name);
bool socket_activated();

}  // namespace edge::http
