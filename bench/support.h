// Benchmark helpers: run a loop on N threads for a while, PSS of a process, a daemon child.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace bench {

// Calls op(thread_index) repeatedly on `threads` threads for `duration`; returns ops/second.
double rate(int threads, std::chrono::milliseconds duration, const std::function<bool(int)>& op);
// Proportional set size in KiB from /proc/<pid>/smaps_rollup (0 if unreadable).
long pss_kib(pid_t pid);
std::string temp_dir();
pid_t spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            const std::string& log);
void stop(pid_t pid);
bool wait_for_socket(const std::string& path);
std::string bin(const std::string& name);
void row(const std::string& what, double ours, const std::string& baseline_name, double baseline,
         const std::string& unit);

}  // namespace bench
