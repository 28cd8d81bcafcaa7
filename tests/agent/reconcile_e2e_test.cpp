// The agent in its container reconciling local-file deployments on the real engine through
// edged's management API: startupOrder, back-off, stop, removal, image updates,
// pull-before-stop, rollback and file watching. The reconcile period is an hour here, so
// everything that happens is driven by edged's event stream and the manifest watch.
#include <catch2/catch.hpp>

#include "tests/agent/agent_rig.h"

using namespace agent_test;

namespace {
std::string started_at(AgentRig& rig, const std::string& n) {
  return rig.inspect(n)["State"].value("StartedAt", "");
}
const std::string kServe = "trap 'exit 0' TERM; sleep 300 & wait";
}  // namespace

TEST_CASE("three modules come up in startupOrder", "[docker][e2e]") {
  AgentRig rig;
  std::string a = rig.name("a"), b = rig.name("b"), c = rig.name("c");
  rig.write_manifest(deployment({{a, module("running", kServe, 2)},
                                 {b, module("running", kServe, 0)},
                                 {c, module("running", kServe, 1)}}));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(a) && rig.running(b) && rig.running(c); }));
  INFO(rig.agent_log());
  // RFC 3339 with nanoseconds from one engine: string order is time order.
  CHECK(started_at(rig, b) < started_at(rig, c));
  CHECK(started_at(rig, c) < started_at(rig, a));
  CHECK(rig.wait_status(200, 1));
}

TEST_CASE("a crashing on-failure module is restarted with upstream's back-off", "[docker][e2e]") {
  AgentRig rig({{"CoolOffTimeUnitInSeconds", "1"}, {"MaxRestartCount", "3"}});
  std::string crash = rig.name("crash");
  EngineEvents engine(crash);  // the engine's own record of starts and exits
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rig.write_manifest(
      deployment({{crash, module("running", "sleep 0.3; exit 3", 1, "on-failure")}}));
  rig.start_agent();
  // 1 start + 3 restarts (cool-offs 1, 2, 4 s), then it stays failed.
  auto starts = [&] { return engine.count("start"); };
  if (!eventually([&] { return starts() == 4; }, 30))
    FAIL("starts: " << starts() << "\n" << rig.agent_log());
  std::this_thread::sleep_for(std::chrono::seconds(10));  // a fifth start would come after 8 s
  INFO(rig.agent_log());
  CHECK(starts() == 4);
  std::vector<double> die, start;
  for (const auto& e : engine.events()) (e.action == "die" ? die : start).push_back(e.time);
  REQUIRE(die.size() >= 3);
  for (int n = 0; n < 3; ++n) {
    double wait = start[n + 1] - die[n], cool_off = 1 << n;
    INFO("restart " << n << " came " << wait << " s after the exit");
    CHECK(wait > cool_off);
    // Before the next step of the back-off would be due (latency itself is bench_agent's job).
    CHECK(wait < 2 * cool_off + 1.0);
  }
  CHECK(rig.inspect(crash)["State"].value("ExitCode", 0) == 3);
  auto state = Json::parse(edge::test::read_file(rig.storage() + "/agent-state.json"));
  CHECK(state["restarts"][crash]["count"] == 3);
}

TEST_CASE("stopped status removal and image tag update", "[docker][e2e]") {
  AgentRig rig;
  std::string m = rig.name("m"), other = rig.name("other");
  std::string tag = "edge-test-busybox:" + rig.name("t");
  REQUIRE(edge::test::run("docker tag " + kImage + " " + tag) == 0);
  struct Untag {
    std::string t;
    ~Untag() { edge::test::run("docker rmi " + t + " >/dev/null 2>&1"); }
  } untag{tag};
  rig.write_manifest(
      deployment({{m, module("running", kServe)}, {other, module("running", kServe)}}, 1));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(m) && rig.running(other); }));
  std::string id = rig.inspect(m)["Id"];

  // Status only: stopped in place, not recreated.
  rig.write_manifest(
      deployment({{m, module("stopped", kServe)}, {other, module("running", kServe)}}, 2));
  REQUIRE(eventually([&] { return !rig.running(m); }));
  CHECK(rig.inspect(m)["Id"] == id);
  // And running again.
  rig.write_manifest(
      deployment({{m, module("running", kServe)}, {other, module("running", kServe)}}, 3));
  REQUIRE(eventually([&] { return rig.running(m); }));
  INFO(rig.agent_log());
  CHECK(rig.inspect(m)["Id"] == id);

  // A new image tag: pulled (here: present), the container recreated from it.
  rig.write_manifest(deployment({{m, module("running", kServe, 1, "always", Json::object(), tag)},
                                 {other, module("running", kServe)}},
                                4));
  REQUIRE(eventually(
      [&] { return rig.inspect(m)["Config"].value("Image", "") == tag && rig.running(m); }));
  CHECK(rig.inspect(m)["Id"] != id);

  // Removal.
  rig.write_manifest(
      deployment({{m, module("running", kServe, 1, "always", Json::object(), tag)}}, 5));
  REQUIRE(eventually([&] { return !rig.exists(other); }));
  CHECK(rig.running(m));
  CHECK(rig.wait_status(200, 5));
}

TEST_CASE("a missing image never takes the running module down", "[docker][e2e]") {
  AgentRig rig;
  std::string m = rig.name("keep");
  rig.write_manifest(deployment({{m, module("running", kServe)}}, 1));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(m); }));
  std::string id = rig.inspect(m)["Id"];
  // Nothing listens on 127.0.0.1:9: the pull fails at once.
  Json missing = module("running", kServe, 1, "always", Json::object(),
                        "127.0.0.1:9/missing" + rig.name("") + ":1");
  missing["imagePullPolicy"] = "on-create";
  rig.write_manifest(deployment({{m, missing}}, 2));
  REQUIRE(rig.wait_status(500, 2));
  INFO(rig.agent_log());
  CHECK_THAT(rig.status().value("description", ""), Catch::Contains("prepare-update"));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(rig.running(m));
  CHECK(rig.inspect(m)["Id"] == id);
}

TEST_CASE("a deployment that does not become healthy is rolled back", "[docker][e2e]") {
  AgentRig rig({{"DeploymentRollbackTimeoutSecs", "4"},
                {"DeploymentStableSecs", "1"},
                {"CoolOffTimeUnitInSeconds", "1"}});
  std::string m = rig.name("svc");
  rig.write_manifest(
      deployment({{m, module("running", kServe, 1, "always", {{"V", {{"value", "good"}}}})}}, 1));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(m); }));
  // Saved as the last good one once it ran for the stable period.
  REQUIRE(eventually(
      [&] {
        return edge::test::read_file(rig.storage() + "/last-good.json").find(m) !=
               std::string::npos;
      },
      10));
  std::string good_id = rig.inspect(m)["Id"];

  rig.write_manifest(
      deployment({{m, module("running", "exit 1", 1, "always", {{"V", {{"value", "bad"}}}})}}, 2));
  REQUIRE(eventually([&] { return rig.inspect(m)["Id"] != good_id; }));
  REQUIRE(rig.wait_status(500, 2, 20));
  Json status = rig.status();
  INFO(rig.agent_log());
  CHECK(status["rolledBack"] == true);
  CHECK(status["rolledBackFrom"] == 2);
  CHECK(status["rolledBackTo"] == 1);
  REQUIRE(eventually([&] {
    auto env = rig.inspect(m)["Config"]["Env"];
    return rig.running(m) && std::find(env.begin(), env.end(), "V=good") != env.end();
  }));
  // The bad deployment is not tried again while the file still holds it.
  std::string restored = rig.inspect(m)["Id"];
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(rig.inspect(m)["Id"] == restored);
  // A new deployment is applied normally.
  rig.write_manifest(
      deployment({{m, module("running", kServe, 1, "always", {{"V", {{"value", "next"}}}})}}, 3));
  CHECK(rig.wait_status(200, 3));
  CHECK(rig.status()["rolledBack"] == false);
}

TEST_CASE("a changed manifest file is applied without a restart", "[docker][e2e]") {
  AgentRig rig;
  std::string first = rig.name("one"), second = rig.name("two");
  rig.write_manifest(deployment({{first, module("running", kServe)}}, 1));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(first); }));
  // Rewritten in place (not renamed) this time.
  edge::test::write_file(
      rig.storage() + "/../../deployment.json",
      deployment({{first, module("running", kServe)}, {second, module("running", kServe)}}, 2)
          .dump());
  CHECK(eventually([&] { return rig.running(second); }, 10));
  CHECK(rig.wait_status(200, 2));
}

TEST_CASE("at SIGTERM the agent stops every module and reports 406", "[docker][e2e]") {
  AgentRig rig;
  std::string a = rig.name("terma"), b = rig.name("termb"), idle = rig.name("termc");
  rig.write_manifest(deployment({{a, module("running", kServe, 1)},
                                 {b, module("running", kServe, 2, "on-failure")},
                                 {idle, module("stopped", kServe, 3)}}));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(a) && rig.running(b) && rig.exists(idle); }));
  REQUIRE(rig.wait_status(200, 1));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(rig.stop_agent(20));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(rig.agent_log());
  // Upstream's shutdown plan: every module but the agent stopped, side by side.
  CHECK_FALSE(rig.running(a));
  CHECK_FALSE(rig.running(b));
  CHECK(rig.inspect(a)["State"].value("ExitCode", -1) == 0);  // stopped by TERM, not killed
  CHECK(rig.inspect(rig.name("agent-"))["State"].value("ExitCode", -1) == 0);  // not killed
  CHECK(took < 15);
  Json status = rig.status();
  CHECK(status["code"] == 406);
  CHECK(status["description"] == "Agent is not running");
  CHECK(status["version"] == 1);
  CHECK_THAT(rig.agent_log(), Catch::Contains("Stopped 2 module(s)"));
  // Started again, the agent brings the deployment back.
  REQUIRE(rig.restart_agent());
  CHECK(eventually([&] { return rig.running(a) && rig.running(b); }));
  CHECK(rig.wait_status(200, 1));
  CHECK_FALSE(rig.running(idle));
}
