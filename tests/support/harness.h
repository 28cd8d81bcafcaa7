// Test helpers: temporary directories, daemons started as child processes, socket clients.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/http/client.h"

namespace edge::test {

// A fresh directory under $TMPDIR, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& content, int mode = 0644);
std::string read_file(const std::string& path);
std::vector<std::string> list_dir(const std::string& path);

// A child process with the given argv and extra environment; stderr goes to `log_path`.
class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
          std::string log_path, uid_t run_as = static_cast<uid_t>(-1));
  ~Process();
  Process(const Process&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  void kill(int sig);
  // Sends SIGTERM (then SIGKILL after a while) and reaps; returns the exit status word.
  int stop();
  int wait();  // waits for exit; returns the exit code (or 128+signal)
  std::string log() const;

 private:
  pid_t pid_ = -1;
  std::string log_path_;
  int status_ = -1;
};

// Polls until a connection to the socket succeeds; false on timeout.
bool wait_for_socket(const std::string& path,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

std::string bin(const std::string& name);  // build/bin/<name>
// Runs a shell command, returns its exit code; stdout into *out when given.
int run(const std::string& command, std::string* out = nullptr);

// Convenience: a request with a JSON body that returns status + parsed JSON (or null).
struct Reply {
  int status = 0;
  http::Json json;
  std::string body;
};
Reply call(http::UnixClient& client, const std::string& method, const std::string& target,
           const std::optional<http::Json>& body = std::nullopt);
// The same request made by a forked child running as `uid` (setgid+setuid), so a daemon's
// SO_PEERCRED sees that uid.
Reply call_as(uid_t uid, const std::string& socket, const std::string& method,
              const std::string& target, const std::optional<http::Json>& body = std::nullopt);
// Starts `program` the way systemd socket activation does: a socket listening at
// `socket_path` passed as fd 3 with LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES=`fd_name`, plus `env`.
// The child dies with the test process. Returns its pid.
pid_t spawn_socket_activated(const std::string& program, const std::string& socket_path,
                             const std::string& fd_name,
                             const std::map<std::string, std::string>& env);

// A listening Unix socket at `path`, as a systemd .socket unit holds it (the caller closes it);
// throws when it cannot listen.
int listen_unix(const std::string& path);
// Starts `program` as systemd starts a service with several sockets: `sockets[i].fd` becomes
// fd 3+i, LISTEN_FDS = their count, LISTEN_FDNAMES = their names joined by ':'. The caller
// keeps its copies (systemd does, so a restarted service gets the same sockets). stdout and
// stderr go to `log_path`. The child dies with the test process. Returns its pid.
struct ActivationSocket {
  int fd;
  std::string name;
};
pid_t spawn_socket_activated(const std::string& program, const std::vector<ActivationSocket>& sockets,
                             const std::map<std::string, std::string>& env,
                             const std::string& log_path);

}  // namespace edge::test
