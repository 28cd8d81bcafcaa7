// run_command: the bundle's commands (iotedge check, docker, journalctl) with both outputs
// read together (poll), so a chatty stderr cannot block the child, and a deadline.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "cli/bundle/bundle.h"

namespace edge::cli::bundle {
namespace {

constexpr size_t kMaxOutput = 64 * 1024 * 1024;  // per stream

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

bool findable(const std::string& program) {
  if (program.find('/') != std::string::npos) return executable(program);
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t colon = dirs.find(':', start);
    if (colon == std::string::npos) colon = dirs.size();
    std::string dir = dirs.substr(start, colon - start);
    if (executable((dir.empty() ? "." : dir) + "/" + program)) return true;
    start = colon + 1;
  }
  return false;
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::string* out, std::string* err,
                std::chrono::seconds timeout) {
  if (argv.empty() || !findable(argv[0])) return -1;
  int pipes[2][2];
  if (::pipe2(pipes[0], O_CLOEXEC) != 0) return -1;
  if (::pipe2(pipes[1], O_CLOEXEC) != 0) {
    ::close(pipes[0][0]);
    ::close(pipes[0][1]);
    return -1;
  }
  // Built before fork: a threaded parent (edged) must not allocate in the child.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(pipes[0][1], 1);
    ::dup2(pipes[1][1], 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipes[0][1]);
  ::close(pipes[1][1]);
  if (pid < 0) {
    ::close(pipes[0][0]);
    ::close(pipes[1][0]);
    return -1;
  }
  std::string text[2];
  pollfd fds[2] = {{pipes[0][0], POLLIN, 0}, {pipes[1][0], POLLIN, 0}};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);  // hung: what it wrote so far is kept
      killed = true;
      break;
    }
    if (::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        fds[i].fd = -1;
        continue;
      }
      if (text[i].size() < kMaxOutput) text[i].append(buf, static_cast<size_t>(n));
    }
  }
  ::close(pipes[0][0]);
  ::close(pipes[1][0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) *out = std::move(text[0]);
  if (err) *err = std::move(text[1]) + (killed ? "\n(timed out)" : "");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace edge::cli::bundle
