#include "agent/planner.h"

#include <catch2/catch.hpp>

using namespace agent;

namespace {
Module module(const std::string& name, uint32_t order, const std::string& image = "reg/x:1") {
  Module m;
  m.name = name;
  m.image = image;
  m.startup_order = order;
  m.restart_policy = RestartPolicy::Always;
  return m;
}
Current running(const Module& m, int64_t start = 1000) {
  Current c;
  c.name = m.name;
  c.image = m.image;
  c.edged_status = RuntimeStatus::Running;
  c.start_ms = start;
  c.applied = m;
  return c;
}
std::vector<std::string> ops(const std::vector<Command>& cmds) {
  std::vector<std::string> out;
  for (const auto& c : cmds) out.push_back(std::string(to_string(c.op)) + " " + c.module);
  return out;
}
}  // namespace

TEST_CASE("new modules are pulled created and started in startupOrder", "[unit]") {
  std::map<std::string, Module> desired{
      {"a", module("a", 2)}, {"b", module("b", 1)}, {"c", module("c", 1)}};
  auto p = plan(desired, {}, 2000, {});
  CHECK(ops(p) == std::vector<std::string>{"prepare-update b", "create b", "start b",
                                           "prepare-update c", "create c", "start c",
                                           "prepare-update a", "create a", "start a"});
}

TEST_CASE("changes become updates status-only changes become start or stop and removals stop first",
          "[unit]") {
  Module a = module("a", 1), b = module("b", 1), gone = module("gone", 0);
  std::map<std::string, Current> current{
      {"a", running(a)}, {"b", running(b)}, {"gone", running(gone)}};
  Module a2 = a;
  a2.image = "reg/x:2";
  Module b2 = b;
  b2.status = DesiredStatus::Stopped;
  auto p = plan({{"a", a2}, {"b", b2}}, current, 2000, {});
  CHECK(ops(p) == std::vector<std::string>{"stop gone", "remove gone", "prepare-update a", "stop a",
                                           "update a", "start a", "reset-restarts a", "stop b",
                                           "reset-restarts b"});
  // Nothing changed and all is running: nothing to do.
  CHECK(plan({{"a", a}, {"b", b}}, {{"a", running(a)}, {"b", running(b)}}, 2000, {}).empty());
  // A container the agent never deployed is recreated.
  Current stranger = running(a);
  stranger.applied.reset();
  CHECK(ops(plan({{"a", a}}, {{"a", stranger}}, 2000, {})) ==
        std::vector<std::string>{"prepare-update a", "stop a", "update a", "start a",
                                 "reset-restarts a"});
}

TEST_CASE("crashed modules restart by policy with upstream's back-off", "[unit]") {
  RestartSettings s;
  // Upstream's CoolOffPeriodTest: counts 0 1 2 3 4 5 10 20 -> 10 20 40 80 160 300 300 300 s.
  std::vector<int64_t> expected{10, 20, 40, 80, 160, 300, 300, 300};
  std::vector<int> counts{0, 1, 2, 3, 4, 5, 10, 20};
  for (size_t i = 0; i < counts.size(); ++i) CHECK(cool_off_ms(counts[i], s) == expected[i] * 1000);
  Module m = module("m", 1);
  Current crashed = running(m);
  crashed.edged_status = RuntimeStatus::Failed;
  crashed.exit_ms = 1'000'000;
  crashed.restart_count = 2;  // cool-off 40 s
  CHECK(plan({{"m", m}}, {{"m", crashed}}, 1'030'000, s).empty());
  CHECK(next_restart_due({{"m", m}}, {{"m", crashed}}, s) == 1'040'001);
  CHECK(ops(plan({{"m", m}}, {{"m", crashed}}, 1'040'001, s)) ==
        std::vector<std::string>{"restart m"});
  crashed.restart_count = 20;  // gave up
  CHECK(status_from_policy(RuntimeStatus::Failed, RestartPolicy::Always, 20, s) ==
        RuntimeStatus::Failed);
  CHECK(plan({{"m", m}}, {{"m", crashed}}, 5'000'000, s).empty());
  CHECK(next_restart_due({{"m", m}}, {{"m", crashed}}, s) == 0);
  // never: a failed module stays down; a stopped never-started one is started once.
  m.restart_policy = RestartPolicy::Never;
  crashed.restart_count = 0;
  crashed.applied = m;
  CHECK(plan({{"m", m}}, {{"m", crashed}}, 5'000'000, s).empty());
  Current fresh = crashed;
  fresh.edged_status = RuntimeStatus::Stopped;
  fresh.start_ms = 0;
  CHECK(ops(plan({{"m", m}}, {{"m", fresh}}, 5'000'000, s)) == std::vector<std::string>{"start m"});
  // on-failure: a clean exit (stopped) is started again, a failure backs off.
  m.restart_policy = RestartPolicy::OnFailure;
  CHECK(status_from_policy(RuntimeStatus::Stopped, RestartPolicy::OnFailure, 0, s) ==
        RuntimeStatus::Stopped);
  CHECK(status_from_policy(RuntimeStatus::Failed, RestartPolicy::OnFailure, 0, s) ==
        RuntimeStatus::Backoff);
  // Healthy for longer than the intensive-care time: the restart count is reset.
  Current healthy = running(module("h", 1), 1'000'000);
  healthy.restart_count = 3;
  CHECK(plan({{"h", module("h", 1)}}, {{"h", healthy}}, 1'000'000 + 599'000, s).empty());
  CHECK(ops(plan({{"h", module("h", 1)}}, {{"h", healthy}}, 1'000'000 + 601'000, s)) ==
        std::vector<std::string>{"reset-restarts h"});
}

TEST_CASE("the agent updates itself first and is never stopped by removals", "[unit]") {
  Module agent = module("edgeAgent", 0, "reg/agent:1");
  Module agent2 = agent;
  agent2.image = "reg/agent:2";
  Module x = module("x", 1);
  auto p = plan({{"edgeAgent", agent2}, {"x", x}}, {{"edgeAgent", running(agent)}}, 2000, {});
  CHECK(ops(p) == std::vector<std::string>{"prepare-update edgeAgent", "update edgeAgent",
                                           "prepare-update x", "create x", "start x"});
  // The agent's version is not compared.
  Module agent_v = agent;
  agent_v.version = "9";
  CHECK(plan({{"edgeAgent", agent_v}}, {{"edgeAgent", running(agent)}}, 2000, {}).empty());
  CHECK(plan({}, {{"edgeAgent", running(agent)}}, 2000, {}).empty());
}

TEST_CASE("upstream's status table under restart policies", "[unit]") {
  RestartSettings s;
  s.max_restart_count = 5;
  using RS = RuntimeStatus;
  using RP = RestartPolicy;
  CHECK(status_from_policy(RS::Stopped, RP::Always, 0, s) == RS::Backoff);
  for (auto p : {RP::OnFailure, RP::OnUnhealthy, RP::Never})
    CHECK(status_from_policy(RS::Stopped, p, 0, s) == RS::Stopped);
  CHECK(status_from_policy(RS::Stopped, RP::Always, 6, s) == RS::Failed);
  CHECK(status_from_policy(RS::Failed, RP::Never, 0, s) == RS::Failed);
  for (auto p : {RP::OnFailure, RP::OnUnhealthy, RP::Always}) {
    CHECK(status_from_policy(RS::Failed, p, 0, s) == RS::Backoff);
    CHECK(status_from_policy(RS::Failed, p, 6, s) == RS::Failed);
    CHECK(status_from_policy(RS::Running, p, 3, s) == RS::Running);
  }
  CHECK(status_from_policy(RS::Dead, RP::Always, 0, s) == RS::Dead);
  // ApplyRestartPolicy: always, count 3 (cool-off 80 s): exited 1 h ago -> restart, 40 s ago
  // -> not yet, exit time in the future (clock skew) -> restart.
  int64_t now = 10'000'000;
  CHECK(cool_off_over(3, now - 3'600'000, now, s));
  CHECK_FALSE(cool_off_over(3, now - 40'000, now, s));
  CHECK(cool_off_over(3, now + 5'000, now, s));
}

TEST_CASE("restart settings come from upstream's environment variables", "[unit]") {
  ::setenv("MaxRestartCount", "3", 1);
  ::setenv("CoolOffTimeUnitInSeconds", "0.5", 1);
  ::setenv("IntensiveCareTimeInMinutes", "0.1", 1);
  auto s = RestartSettings::from_env();
  CHECK(s.max_restart_count == 3);
  CHECK(s.cool_off_unit_ms == 500);
  CHECK(s.intensive_care_ms == 6000);
  CHECK(cool_off_ms(2, s) == 2000);
  ::setenv("CoolOffTimeUnitInSeconds", "ten", 1);  // not a number: the default
  ::setenv("MaxRestartCount", "-4", 1);
  CHECK(RestartSettings::from_env().cool_off_unit_ms == 10'000);
  CHECK(RestartSettings::from_env().max_restart_count == 20);
  ::unsetenv("MaxRestartCount");
  ::unsetenv("CoolOffTimeUnitInSeconds");
  ::unsetenv("IntensiveCareTimeInMinutes");
}

TEST_CASE("commands carry their startupOrder group and convergence is judged per module",
          "[unit]") {
  Module a = module("a", 1), b = module("b", 7);
  auto p = plan({{"a", a}, {"b", b}}, {}, 2000, {});
  for (const auto& c : p) CHECK(c.group == (c.module == "a" ? 1u : 7u));
  std::map<std::string, Current> both{{"a", running(a)}, {"b", running(b)}};
  CHECK(converged({{"a", a}, {"b", b}}, both));
  both["b"].edged_status = RuntimeStatus::Failed;
  CHECK_FALSE(converged({{"a", a}, {"b", b}}, both));
  Module stopped = b;
  stopped.status = DesiredStatus::Stopped;
  both["b"].applied = stopped;
  CHECK(converged({{"a", a}, {"b", stopped}}, both));
  CHECK_FALSE(converged({{"a", a}}, both));  // b still there but no longer desired
}

TEST_CASE("modules that are never pulled skip the prepare step", "[unit]") {
  Module m = module("m", 1);
  m.pull_on_create = false;
  CHECK(ops(plan({{"m", m}}, {}, 2000, {})) == std::vector<std::string>{"create m", "start m"});
  Module old = m;
  old.image = "reg/x:0";
  CHECK(ops(plan({{"m", m}}, {{"m", running(old)}}, 2000, {})) ==
        std::vector<std::string>{"stop m", "update m", "start m", "reset-restarts m"});
}
