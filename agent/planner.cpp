#include "agent/planner.h"

#include <set>

namespace agent {

const char* to_string(Op op) {
  switch (op) {
    case Op::PrepareUpdate:
      return "prepare-update";
    case Op::Create:
      return "create";
    case Op::Update:
      return "update";
    case Op::Start:
      return "start";
    case Op::Stop:
      return "stop";
    case Op::Remove:
      return "remove";
    case Op::Restart:
      return "restart";
    case Op::ResetRestarts:
      return "reset-restarts";
  }
  return "?";
}

namespace {
// Equal except the desired status: a start/stop is enough.
bool only_status_differs(const Module& a, const Module& b) {
  Module x = a;
  x.status = b.status;
  return x == b && a.status != b.status;
}

bool same_module(const Module& desired, const Current& cur) {
  if (!cur.applied) return false;   // unknown container: recreate
  if (desired.name == "edgeAgent")  // version and pull policy are not compared for the agent
    return desired.image == cur.applied->image &&
           desired.create_options == cur.applied->create_options && desired.env == cur.applied->env;
  return desired == *cur.applied;
}

bool unchanged(const Module& m, const Current& c) {
  return c.edged_status != RuntimeStatus::Dead && same_module(m, c);
}
}  // namespace

std::vector<Command> plan(const std::map<std::string, Module>& desired,
                          const std::map<std::string, Current>& current, int64_t now,
                          const RestartSettings& s) {
  std::vector<Command> out;
  // The agent replaces itself first when its own image/options changed.
  auto want_agent = desired.find("edgeAgent");
  auto have_agent = current.find("edgeAgent");
  if (want_agent != desired.end() && have_agent != current.end() && have_agent->second.applied &&
      !same_module(want_agent->second, have_agent->second)) {
    out.push_back({Op::PrepareUpdate, "edgeAgent", want_agent->second, 0});
    out.push_back({Op::Update, "edgeAgent", want_agent->second, 0});
  }
  // Containers the last deployment did not know get order 0: they go first.
  auto order_of_current = [&](const Current& c) {
    return c.applied ? c.applied->startup_order : 0u;
  };
  std::set<uint32_t> priorities;
  for (const auto& [n, m] : desired) priorities.insert(m.startup_order);
  for (const auto& [n, c] : current)
    if (!desired.count(n)) priorities.insert(order_of_current(c));

  for (uint32_t p : priorities) {
    auto add = [&](Op op, const std::string& n, std::optional<Module> spec = std::nullopt) {
      out.push_back({op, n, std::move(spec), p});
    };
    for (const auto& [n, c] : current) {  // removed: stop, then remove
      if (desired.count(n) || order_of_current(c) != p || n == "edgeAgent") continue;
      add(Op::Stop, n);
      add(Op::Remove, n);
    }
    for (const auto& [n, m] : desired) {
      if (m.startup_order != p || n == "edgeAgent") continue;
      auto it = current.find(n);
      bool running = m.status == DesiredStatus::Running;
      // With imagePullPolicy never edged pulls nothing: the prepare call is left out.
      if (it == current.end()) {  // added: pull, create, start
        if (m.pull_on_create) add(Op::PrepareUpdate, n, m);
        add(Op::Create, n, m);
        if (running) add(Op::Start, n);
        continue;
      }
      const Current& c = it->second;
      if (c.edged_status == RuntimeStatus::Dead) {
        add(Op::Remove, n);
        add(Op::Create, n, m);
        if (running) add(Op::Start, n);
        add(Op::ResetRestarts, n);
        continue;
      }
      if (c.applied && only_status_differs(*c.applied, m)) {
        add(running ? Op::Start : Op::Stop, n, m);  // with the spec: it becomes the applied one
        add(Op::ResetRestarts, n);
        continue;
      }
      if (!same_module(m, c)) {
        // The new image is pulled while the old container still runs: a pull that fails
        // leaves the module as it was (the runner skips the rest of this module's steps).
        if (m.pull_on_create) add(Op::PrepareUpdate, n, m);
        add(Op::Stop, n);
        add(Op::Update, n, m);
        if (running) add(Op::Start, n);
        add(Op::ResetRestarts, n);
        continue;
      }
      // Unchanged: keep it in its desired state by its restart policy.
      if (!running) {
        if (c.edged_status == RuntimeStatus::Running) add(Op::Stop, n);
        continue;
      }
      RuntimeStatus status =
          status_from_policy(c.edged_status, m.restart_policy, c.restart_count, s);
      if (status == RuntimeStatus::Backoff) {
        if (cool_off_over(c.restart_count, c.exit_ms, now, s)) add(Op::Restart, n);
      } else if (status == RuntimeStatus::Stopped &&
                 (m.restart_policy != RestartPolicy::Never || c.start_ms == 0)) {
        add(Op::Start, n);  // a clean exit: started again without back-off, as upstream
      } else if (status == RuntimeStatus::Running && c.restart_count > 0 &&
                 now - c.start_ms > s.intensive_care_ms) {
        add(Op::ResetRestarts, n);
      }
    }
  }
  return out;
}

int64_t next_restart_due(const std::map<std::string, Module>& desired,
                         const std::map<std::string, Current>& current, const RestartSettings& s) {
  int64_t due = 0;
  for (const auto& [n, m] : desired) {
    auto it = current.find(n);
    if (it == current.end() || m.status != DesiredStatus::Running || !unchanged(m, it->second))
      continue;
    const Current& c = it->second;
    if (status_from_policy(c.edged_status, m.restart_policy, c.restart_count, s) !=
        RuntimeStatus::Backoff)
      continue;
    int64_t t = c.exit_ms + cool_off_ms(c.restart_count, s) + 1;
    if (due == 0 || t < due) due = t;
  }
  return due;
}

bool converged(const std::map<std::string, Module>& desired,
               const std::map<std::string, Current>& current) {
  for (const auto& [n, m] : desired) {
    if (n == "edgeAgent") continue;
    auto it = current.find(n);
    if (it == current.end() || !unchanged(m, it->second)) return false;
    bool running = it->second.edged_status == RuntimeStatus::Running;
    if ((m.status == DesiredStatus::Running) != running) return false;
  }
  for (const auto& [n, c] : current)
    if (!desired.count(n) && n != "edgeAgent") return false;
  return true;
}

}  // namespace agent
