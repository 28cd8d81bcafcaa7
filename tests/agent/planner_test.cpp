#include <catch2/catch.hpp>

#include "agent/planner.h"

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
Current running(const Module& m, long long start = 1000) {
  Current c;
  c.name = m.name;
  c.image = m.image;
  c.edged_status = RuntimeStatus::Running;
  c.start_time = start;
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
  std::map<std::string, Module> desired{{"a", module("a", 2)}, {"b", module("b", 1)}, {"c", module("c", 1)}};
  auto p = plan(desired, {}, 2000, {});
  CHECK(ops(p) == std::vector<std::string>{"prepare-update b", "create b", "start b", "prepare-update c", "create c",
                                           "start c", "prepare-update a", "create a", "start a"});
}

TEST_CASE("changes become updates status-only changes become start or stop and removals stop first", "[unit]") {
  Module a = module("a", 1), b = module("b", 1), gone = module("gone", 0);
  std::map<std::string, Current> current{{"a", running(a)}, {"b", running(b)}, {"gone", running(gone)}};
  Module a2 = a;
  a2.image = "reg/x:2";
  Module b2 = b;
  b2.status = DesiredStatus::Stopped;
  auto p = plan({{"a", a2}, {"b", b2}}, current, 2000, {});
  CHECK(ops(p) == std::vector<std::string>{"stop gone", "remove gone", "prepare-update a", "stop a", "update a",
                                           "start a", "reset-restarts a", "stop b", "reset-restarts b"});
  // Nothing changed and all is running: nothing to do.
  CHECK(plan({{"a", a}, {"b", b}}, {{"a", running(a)}, {"b", running(b)}}, 2000, {}).empty());
  // A container the agent never deployed is recreated.
  Current stranger = running(a);
  stranger.applied.reset();
  CHECK(ops(plan({{"a", a}}, {{"a", stranger}}, 2000, {})) ==
        std::vector<std::string>{"prepare-update a", "stop a", "update a", "start a", "reset-restarts a"});
}

TEST_CASE("crashed modules restart by policy with upstream's back-off", "[unit]") {
  RestartSettings s;
  CHECK(cool_off_seconds(0, s) == 10);
  CHECK(cool_off_seconds(3, s) == 80);
  CHECK(cool_off_seconds(5, s) == 300);
  CHECK(cool_off_seconds(12, s) == 300);
  Module m = module("m", 1);
  Current crashed = running(m);
  crashed.edged_status = RuntimeStatus::Failed;
  crashed.exit_time = 1000;
  crashed.restart_count = 2;  // cool-off 40 s
  CHECK(plan({{"m", m}}, {{"m", crashed}}, 1030, s).empty());
  CHECK(ops(plan({{"m", m}}, {{"m", crashed}}, 1041, s)) == std::vector<std::string>{"restart m"});
  crashed.restart_count = 20;  // gave up
  CHECK(status_from_policy(RuntimeStatus::Failed, RestartPolicy::Always, 20, s) == RuntimeStatus::Failed);
  CHECK(plan({{"m", m}}, {{"m", crashed}}, 5000, s).empty());
  // never: a failed module stays down; a stopped never-started one is started once.
  m.restart_policy = RestartPolicy::Never;
  crashed.restart_count = 0;
  crashed.applied = m;
  CHECK(plan({{"m", m}}, {{"m", crashed}}, 5000, s).empty());
  Current fresh = crashed;
  fresh.edged_status = RuntimeStatus::Stopped;
  fresh.start_time = 0;
  CHECK(ops(plan({{"m", m}}, {{"m", fresh}}, 5000, s)) == std::vector<std::string>{"start m"});
  // on-failure: a clean exit (stopped) is started again, a failure backs off.
  m.restart_policy = RestartPolicy::OnFailure;
  CHECK(status_from_policy(RuntimeStatus::Stopped, RestartPolicy::OnFailure, 0, s) == RuntimeStatus::Stopped);
  CHECK(status_from_policy(RuntimeStatus::Failed, RestartPolicy::OnFailure, 0, s) == RuntimeStatus::Backoff);
  // Healthy for longer than the intensive-care time: the restart count is reset.
  Current healthy = running(module("h", 1), 1000);
  healthy.restart_count = 3;
  CHECK(ops(plan({{"h", module("h", 1)}}, {{"h", healthy}}, 1000 + 601, s)) == std::vector<std::string>{"reset-restarts h"});
}

TEST_CASE("the agent updates itself first and is never stopped by removals", "[unit]") {
  Module agent = module("edgeAgent", 0, "reg/agent:1");
  Module agent2 = agent;
  agent2.image = "reg/agent:2";
  Module x = module("x", 1);
  auto p = plan({{"edgeAgent", agent2}, {"x", x}}, {{"edgeAgent", running(agent)}}, 2000, {});
  CHECK(ops(p) == std::vector<std::string>{"prepare-update edgeAgent", "update edgeAgent", "prepare-update x", "create x", "start x"});
  // The agent's version is not compared.
  Module agent_v = agent;
  agent_v.version = "9";
  CHECK(plan({{"edgeAgent", agent_v}}, {{"edgeAgent", running(agent)}}, 2000, {}).empty());
  CHECK(plan({}, {{"edgeAgent", running(agent)}}, 2000, {}).empty());
}
