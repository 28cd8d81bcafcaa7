#include "bench/support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/http/client.h"

namespace bench {

double rate(int threads, std::chrono::milliseconds duration, const std::function<bool(int)>& op) {
  std::atomic<bool> stop{false};
  std::atomic<long> total{0};
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      long n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t)) break;
        ++n;
      }
      total += n;
    });
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(total.load()) / secs;
}

long pss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("Pss:", 0) == 0) return std::atol(line.c_str() + 4);
  return 0;
}

std::string temp_dir() {
  std::string tmpl = "/tmp/edge-bench-XXXXXX";
  return mkdtemp(tmpl.data()) ? tmpl : "/tmp";
}

pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) dup2(fd, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void stop(pid_t pid) {
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
}

bool wait_for_socket(const std::string& path) {
  for (int i = 0; i < 1000; ++i) {
    int fd = edge::http::connect_unix(path);
    if (fd >= 0) {
      close(fd);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string bin(const std::string& name) { return std::string(EDGE_BIN_DIR) + "/" + name; }

void row(const std::string& what, double ours, const std::string& baseline_name, double baseline,
         const std::string& unit) {
  std::printf("%-44s %12.0f %-6s | %-34s %12.0f | ratio %.2f\n", what.c_str(), ours, unit.c_str(),
              baseline_name.c_str(), baseline, baseline > 0 ? ours / baseline : 0.0);
}

}  // namespace bench
