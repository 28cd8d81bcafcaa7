#include "agent/planner.h"

#include <set>

namespace agent {

const char* to_string(Op op) {
  switch (op) {
    case Op::PrepareUpdate: return "prepare-update";
    case Op::Create: return "create";
    case Op::Update: return "update";
    case Op::Start: return "start";
    case Op::Stop: return "stop";
    case Op::Remove: return "remove";
    case Op::Restart: return "restart";
    case Op::ResetRestarts: return "reset-restarts";
  }
  return "?";
}

long long cool_off_seconds(int n, const RestartSettings& s) {
  long long v = s.cool_off_unit_seconds;
  for (int i = 0; i < n && v < 300; ++i) v *= 2;
  return std::min(v, 300LL);
}

RuntimeStatus status_from_policy(RuntimeStatus edged, RestartPolicy policy, int count, const RestartSettings& s) {
  if (edged == RuntimeStatus::Dead) return RuntimeStatus::Dead;
  bool failedish = edged == RuntimeStatus::Failed;
  if (edged != RuntimeStatus::Running && policy != RestartPolicy::Never &&
      (policy == RestartPolicy::Always || failedish))
    return count >= s.max_restart_count ? RuntimeStatus::Failed : RuntimeStatus::Backoff;
  return edged;
}

namespace {
// Equal except the desired status: a start/stop is enough.
bool only_status_differs(const Module& a, const Module& b) {
  Module x = a;
  x.status = b.status;
  return x == b && a.status != b.status;
}

bool same_module(const Module& desired, const Current& cur) {
  if (!cur.applied) return false;  // unknown container: recreate
  if (desired.name == "edgeAgent")  // version and pull policy are not compared for the agent
    return desired.image == cur.applied->image && desired.create_options == cur.applied->create_options &&
           desired.env == cur.applied->env;
  return desired == *cur.applied;
}
}  // namespace

std::vector<Command> plan(const std::map<std::string, Module>& desired,
                          const std::map<std::string, Current>& current, long long now,
                          const RestartSettings& s) {
  std::vector<Command> out;
  // The agent replaces itself first when its own image/options changed.
  auto want_agent = desired.find("edgeAgent");
  auto have_agent = current.find("edgeAgent");
  if (want_agent != desired.end() && have_agent != current.end() && have_agent->second.applied &&
      !same_module(want_agent->second, have_agent->second)) {
    out.push_back({Op::PrepareUpdate, "edgeAgent", want_agent->second});
    out.push_back({Op::Update, "edgeAgent", want_agent->second});
  }
  auto order_of_current = [&](const Current& c) { return c.applied ? c.applied->startup_order : 0u; };
  std::set<uint32_t> priorities;
  for (const auto& [n, m] : desired) priorities.insert(m.startup_order);
  for (const auto& [n, c] : current)
    if (!desired.count(n)) priorities.insert(order_of_current(c));

  for (uint32_t p : priorities) {
    // Removed modules of this priority: stop, then remove.
    for (const auto& [n, c] : current) {
      if (desired.count(n) || order_of_current(c) != p || n == "edgeAgent") continue;
      out.push_back({Op::Stop, n, std::nullopt});
      out.push_back({Op::Remove, n, std::nullopt});
    }
    for (const auto& [n, m] : desired) {
      if (m.startup_order != p || n == "edgeAgent") continue;
      auto it = current.find(n);
      if (it == current.end()) {  // added: pull first, then create and start
        out.push_back({Op::PrepareUpdate, n, m});
        out.push_back({Op::Create, n, m});
        if (m.status == DesiredStatus::Running) out.push_back({Op::Start, n, std::nullopt});
        continue;
      }
      const Current& c = it->second;
      if (c.edged_status == RuntimeStatus::Dead) {
        out.push_back({Op::Remove, n, std::nullopt});
        out.push_back({Op::Create, n, m});
        if (m.status == DesiredStatus::Running) out.push_back({Op::Start, n, std::nullopt});
        continue;
      }
      if (c.applied && only_status_differs(*c.applied, m)) {
        out.push_back({m.status == DesiredStatus::Running ? Op::Start : Op::Stop, n, std::nullopt});
        out.push_back({Op::ResetRestarts, n, std::nullopt});
        continue;
      }
      if (!same_module(m, c)) {  // updated: the new image is pulled before the old one stops
        out.push_back({Op::PrepareUpdate, n, m});
        out.push_back({Op::Stop, n, std::nullopt});
        out.push_back({Op::Update, n, m});
        if (m.status == DesiredStatus::Running) out.push_back({Op::Start, n, std::nullopt});
        out.push_back({Op::ResetRestarts, n, std::nullopt});
        continue;
      }
      // Unchanged: keep it in its desired state by its restart policy.
      if (m.status == DesiredStatus::Stopped) {
        if (c.edged_status == RuntimeStatus::Running) out.push_back({Op::Stop, n, std::nullopt});
        continue;
      }
      RuntimeStatus status = status_from_policy(c.edged_status, m.restart_policy, c.restart_count, s);
      if (status == RuntimeStatus::Backoff) {
        long long elapsed = now - c.exit_time;
        if (elapsed <= 0 || elapsed > cool_off_seconds(c.restart_count, s))
          out.push_back({Op::Restart, n, std::nullopt});
      } else if (status == RuntimeStatus::Stopped &&
                 (m.restart_policy != RestartPolicy::Never || c.start_time == 0)) {
        out.push_back({Op::Start, n, std::nullopt});
      } else if (status == RuntimeStatus::Running && c.restart_count > 0 &&
                 now - c.start_time > s.intensive_care_seconds) {
        out.push_back({Op::ResetRestarts, n, std::nullopt});
      }
    }
  }
  return out;
}

}  // namespace agent
