// "The caller must be the named module": the caller's pid (SO_PEERCRED) must be one of the
// processes `docker top` lists for the module's container (a leading '$' is ignored), as
// upstream's auth_caller. Any engine error is a refusal (403 "forbidden").
#pragma once
#include <sys/types.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "edged/docker.h"

namespace edged {

edge::Status authorize_caller(docker::Client& docker, const std::string& module, pid_t pid);

// authorize_caller with a short memory of granted (pid, process start time) pairs: a process
// stays in its container for life and the start time tells a reused pid apart, so a granted
// caller's next requests skip the engine round trip (tens of milliseconds) for `ttl`.
class CallerAuth {
 public:
  static constexpr size_t kMaxEntries = 1024;
  explicit CallerAuth(std::string docker_socket, std::chrono::seconds ttl = std::chrono::seconds(10))
      : docker_(std::move(docker_socket)), ttl_(ttl) {}
  edge::Status check(const std::string& module, pid_t pid);

 private:
  struct Grant {
    std::string module;
    unsigned long long start_time;
    std::chrono::steady_clock::time_point expires;
  };
  docker::Client docker_;
  std::chrono::seconds ttl_;
  std::mutex mutex_;
  std::map<pid_t, Grant> granted_;
};

// Field 22 of /proc/<pid>/stat (clock ticks since boot); 0 when the process is gone.
unsigned long long process_start_time(pid_t pid);

}  // namespace edged
