// The agent in its container deploys from a local manifest file through edged's management API
// (served in-process here) onto the real engine: create in startupOrder, stop, update,
// remove, and restart a crashing module.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <thread>

#include "common/http/server.h"
#include "edged/management.h"
#include "tests/support/harness.h"

using namespace edged;
using edge::http::Json;

namespace {
const std::string kImage = "edge-test-busybox:1";

Json module(const std::string& status, const std::string& cmd, int order,
            const std::string& policy = "always", Json env = Json::object()) {
  Json create{{"Cmd", {"/bin/sh", "-c", cmd}}};
  return Json{{"version", "1.0"},
              {"type", "docker"},
              {"status", status},
              {"restartPolicy", policy},
              {"imagePullPolicy", "never"},
              {"startupOrder", order},
              {"settings", {{"image", kImage}, {"createOptions", create.dump()}}},
              {"env", env}};
}

Json deployment(Json modules) {
  return Json{{"modulesContent",
               {{"$edgeAgent",
                 {{"properties.desired",
                   {{"schemaVersion", "1.1"},
                    {"runtime", {{"type", "docker"}, {"settings", Json::object()}}},
                    {"systemModules", Json::object()},
                    {"modules", modules}}}}}}}};
}

template <class F>
bool eventually(F f, int seconds = 30) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}
}  // namespace

TEST_CASE("the agent deploys updates and removes modules from a local manifest", "[docker][e2e]") {
  edge::test::TempDir dir;
  std::string suffix = std::to_string(getpid());
  std::string agent = "agent-" + suffix, a = "first" + suffix, b = "second" + suffix,
              crash = "crash" + suffix;
  docker::Client docker;
  auto cleanup = [&] {
    for (const auto& n : {agent, a, b, crash}) (void)docker.remove_container(n, true);
  };
  cleanup();
  std::string image = "iotedge-lite/edge-agent:test-" + suffix;
  std::string out;
  REQUIRE(edge::test::run("EDGE_AGENT_BINARY=" + edge::test::bin("edge-agent") +
                              " " EDGE_SOURCE_DIR "/scripts/build-agent-image.sh " + image +
                              " 2>&1",
                          &out) == 0);

  // Its own owner label value: agents of other tests on this engine never touch its modules.
  Management mgmt(
      ManagementOptions{"/var/run/docker.sock", agent, "1.5.0", "local-deploy-test-" + suffix});
  edge::http::Server server([&](edge::http::Request& r) { return mgmt.handle(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "mgmt.sock")));
  std::thread t([&] { server.run(); });
  struct Guard {  // also on a failed REQUIRE: no container or thread left behind
    std::function<void()> done;
    ~Guard() { done(); }
  } guard{[&] {
    cleanup();
    server.stop();
    if (t.joinable()) t.join();
  }};

  auto write_manifest = [&](const Json& modules) {
    edge::test::write_file(dir / "deployment.json.tmp", deployment(modules).dump());
    REQUIRE(::rename((dir / "deployment.json.tmp").c_str(), (dir / "deployment.json").c_str()) ==
            0);
  };
  write_manifest(
      Json{{a, module("running", "trap 'exit 0' TERM; echo v1 $GREETING; sleep 300 & wait", 2,
                      "always", {{"GREETING", {{"value", "hello"}}}})},
           {b, module("stopped", "sleep 300", 1)}});
  Json create{
      {"Image", image},
      {"Env",
       {"ConfigSource=local", "IOTEDGE_MANAGEMENTURI=unix:///edge/mgmt.sock", "LocalConfigPath=/edge/deployment.json",
        "StorageFolder=/edge/storage", "ReconcileIntervalSecs=1"}},
      {"HostConfig", {{"Binds", {dir.path() + ":/edge"}}}}};
  REQUIRE(docker.create_container(agent, create));
  REQUIRE(docker.start(agent));
  auto running = [&](const std::string& n) {
    auto i = docker.inspect_container(n);
    return i && (*i)["State"].value("Running", false);
  };
  auto exists = [&](const std::string& n) {
    return static_cast<bool>(docker.inspect_container(n));
  };
  auto agent_log = [&] {
    std::string text;
    (void)docker.logs(agent, {}, [&](const docker::LogFrame& f) {
      text += f.text;
      return true;
    });
    return text;
  };

  REQUIRE(eventually([&] { return running(a) && exists(b); }));
  INFO(agent_log());
  CHECK_FALSE(running(b));  // desired stopped: created, not started
  auto first = docker.inspect_container(a);
  auto env = (*first)["Config"]["Env"];
  CHECK(std::find(env.begin(), env.end(), "GREETING=hello") != env.end());
  // startupOrder: b (1) was created before a (2).
  CHECK((*docker.inspect_container(b))["Created"].get<std::string>() <
        (*first)["Created"].get<std::string>());

  // Update a's env and remove b; add a module that keeps crashing.
  write_manifest(
      Json{{a, module("running", "trap 'exit 0' TERM; echo v2 $GREETING; sleep 300 & wait", 2,
                      "always", {{"GREETING", {{"value", "changed"}}}})},
           {crash, module("running", "echo crashing; exit 3", 3, "always")}});
  REQUIRE(eventually([&] {
    auto i = docker.inspect_container(a);
    return i && (*i)["Id"] != (*first)["Id"] && (*i)["State"].value("Running", false);
  }));
  CHECK(eventually([&] { return !exists(b); }));
  auto updated = (*docker.inspect_container(a))["Config"]["Env"];
  CHECK(std::find(updated.begin(), updated.end(), "GREETING=changed") != updated.end());
  // The crashing module is started again after it exits (first cool-off is 10 s).
  std::string crash_log;
  CHECK(eventually(
      [&] {
        crash_log.clear();
        (void)docker.logs(crash, {}, [&](const docker::LogFrame& f) {
          crash_log += f.text;
          return true;
        });
        return crash_log == "crashing\ncrashing\n";
      },
      40));
  auto state = edge::test::read_file(dir / "storage/edgeAgent/agent-state.json");
  CHECK_THAT(state, Catch::Contains(crash));

  // A restarted agent reads its state back and leaves an unchanged deployment alone: the
  // modules its shutdown stopped (as upstream) are started again, not recreated (an `always`
  // module after upstream's first cool-off of 10 s).
  std::string before = (*docker.inspect_container(a))["Id"];
  REQUIRE(docker.restart(agent, 5));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  CHECK(running(agent));
  CHECK(eventually([&] { return running(a); }, 20));
  CHECK((*docker.inspect_container(a))["Id"] == before);

  // A broken manifest leaves the running modules alone.
  edge::test::write_file(dir / "deployment.json", "{not json");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(running(a));
  CHECK_THAT(agent_log(), Catch::Contains("Deployment not applied: 400"));

  (void)docker.remove_container(agent, true);
  (void)docker.remove_image(image);
}
