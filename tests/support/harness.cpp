#include "tests/support/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace edge::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/edge-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
  ::chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  if (!std::getenv("EDGE_KEEP_TEST_DIRS")) run("rm -rf '" + path_ + "'");
}

void write_file(const std::string& path, const std::string& content, int mode) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  ::chmod(path.c_str(), static_cast<mode_t>(mode));
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = opendir(path.c_str())) {
    while (auto* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> env,
                 std::string log_path, uid_t run_as)
    : log_path_(std::move(log_path)) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test must not leave daemons behind
    int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDERR_FILENO);
      dup2(fd, STDOUT_FILENO);
    }
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (run_as != static_cast<uid_t>(-1)) {
      if (setgid(run_as) != 0 || setuid(run_as) != 0) _exit(126);
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && status_ < 0) stop();
}

bool Process::running() {
  if (status_ >= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return true;
}

void Process::kill(int sig) {
  if (running()) ::kill(pid_, sig);
}

int Process::wait() {
  if (status_ < 0) {
    int st = 0;
    waitpid(pid_, &st, 0);
    status_ = st;
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  return 128 + WTERMSIG(status_);
}

int Process::stop() {
  if (running()) {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && running(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (running()) ::kill(pid_, SIGKILL);
  }
  return wait();
}

std::string Process::log() const { return read_file(log_path_); }

bool wait_for_socket(const std::string& path, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    int fd = http::connect_unix(path);
    if (fd >= 0) {
      ::close(fd);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string bin(const std::string& name) { return std::string(EDGE_BIN_DIR) + "/" + name; }

int run(const std::string& command, std::string* out) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int st = pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Reply call(http::UnixClient& client, const std::string& method, const std::string& target,
           const std::optional<http::Json>& body) {
  Reply r;
  auto resp = client.request(method, target, body);
  if (!resp) {
    r.status = -1;
    r.body = resp.error().message;
    return r;
  }
  r.status = resp->status;
  r.body = resp->body;
  auto j = resp->json();
  if (j) r.json = *j;
  return r;
}

Reply call_as(uid_t uid, const std::string& socket, const std::string& method,
              const std::string& target, const std::optional<http::Json>& body) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (setgid(uid) != 0 || setuid(uid) != 0) _exit(3);
    http::UnixClient c(socket);
    auto r = call(c, method, target, body);
    std::string out = std::to_string(r.status) + "\n" + r.body;
    [[maybe_unused]] auto n = write(fds[1], out.data(), out.size());
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  Reply r;
  auto nl = out.find('\n');
  r.status = nl == std::string::npos ? -1 : std::stoi(out.substr(0, nl));
  r.body = nl == std::string::npos ? out : out.substr(nl + 1);
  r.json = http::Json::parse(r.body, nullptr, false);
  return r;
}

pid_t spawn_socket_activated(const std::string& program, const std::string& socket_path,
                             const std::string& fd_name,
                             const std::map<std::string, std::string>& env) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
  std::strcpy(addr.sun_path, socket_path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0)
    throw std::runtime_error("could not listen on " + socket_path);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fd, 3);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDS", "1", 1);
    setenv("LISTEN_FDNAMES", fd_name.c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execl(program.c_str(), program.c_str(), nullptr);
    _exit(127);
  }
  ::close(fd);
  return pid;
}

int listen_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof addr.sun_path) throw std::runtime_error("cannot listen on " + path);
  std::strcpy(addr.sun_path, path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0)
    throw std::runtime_error("could not listen on " + path);
  return fd;
}

pid_t spawn_socket_activated(const std::string& program, const std::vector<ActivationSocket>& sockets,
                             const std::map<std::string, std::string>& env,
                             const std::string& log_path) {
  std::string names;
  for (const auto& s : sockets) names += (names.empty() ? "" : ":") + s.name;
  const std::string count = std::to_string(sockets.size());
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
    }
    // Out of the way first, so no source fd is overwritten before it is moved to 3+i.
    std::vector<int> moved;
    for (const auto& s : sockets) moved.push_back(fcntl(s.fd, F_DUPFD_CLOEXEC, 100));
    for (size_t i = 0; i < moved.size(); ++i) dup2(moved[i], 3 + static_cast<int>(i));  // no CLOEXEC
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDS", count.c_str(), 1);
    setenv("LISTEN_FDNAMES", names.c_str(), 1);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    execl(program.c_str(), program.c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

}  // namespace edge::test
