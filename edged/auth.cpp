#include "edged/auth.h"

#include <fstream>
#include <sstream>

#include "common/log.h"

namespace edged {
namespace {
std::unexpected<edge::Error> forbidden() { return edge::fail(edge::ErrorKind::Forbidden, "forbidden"); }
}  // namespace

edge::Status authorize_caller(docker::Client& docker, const std::string& module, pid_t pid) {
  std::string name = module.starts_with("$") ? module.substr(1) : module;
  auto top = docker.top(name);
  if (!top) {
    edge::log::info("Auth for " + name + " failed: " + top.error().message);
    return forbidden();
  }
  const docker::Json& titles = (*top)["Titles"];
  size_t column = 0;
  for (; column < titles.size(); ++column)
    if (titles[column] == "PID") break;
  if (column == titles.size()) return forbidden();
  for (const auto& process : (*top)["Processes"])
    if (process.size() > column && process[column] == std::to_string(pid)) return {};
  edge::log::info("Only " + name + " is authorized for this endpoint; pid " + std::to_string(pid) +
                  " not authorized.");
  return forbidden();
}

unsigned long long process_start_time(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i)
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  return 0;
}

edge::Status CallerAuth::check(const std::string& module, pid_t pid) {
  std::string name = module.starts_with("$") ? module.substr(1) : module;
  auto now = std::chrono::steady_clock::now();
  unsigned long long started = process_start_time(pid);
  if (started != 0) {
    std::lock_guard lock(mutex_);
    auto it = granted_.find(pid);
    if (it != granted_.end() && it->second.module == name && it->second.start_time == started &&
        it->second.expires > now)
      return {};
  }
  EDGE_TRY_VOID(authorize_caller(docker_, name, pid));
  // Re-read: the pid must still be the same process that `docker top` listed.
  if (started != 0 && process_start_time(pid) == started) {
    std::lock_guard lock(mutex_);
    if (granted_.size() >= kMaxEntries) {
      for (auto it = granted_.begin(); it != granted_.end();)
        it = it->second.expires <= now ? granted_.erase(it) : std::next(it);
      if (granted_.size() >= kMaxEntries) granted_.clear();
    }
    granted_[pid] = Grant{name, started, now + ttl_};
  }
  return {};
}

}  // namespace edged
