// edged's event stream (GET /events, our addition to the management API) followed by the
// agent's watcher, on the real engine: a module container's exit arrives within a second.
#include "agent/events.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <mutex>
#include <thread>

#include "common/http/server.h"
#include "edged/events.h"
#include "edged/management.h"
#include "edged/module.h"
#include "tests/support/harness.h"

using edge::http::Json;

TEST_CASE("engine events become module event lines", "[unit]") {
  Json die = Json::parse(R"({"Type":"container","Action":"die","timeNano":1700000000123456789,
    "Actor":{"ID":"abc","Attributes":{"name":"sensor","exitCode":"3","image":"x"}}})");
  Json line = Json::parse(edged::event_line(die));
  CHECK(line["name"] == "sensor");
  CHECK(line["action"] == "die");
  CHECK(line["exitCode"] == 3);
  CHECK(line["timeNano"] == 1700000000123456789LL);
  Json exec = die;
  exec["Action"] = "exec_start: sh";
  CHECK(edged::event_line(exec).empty());
  Json nameless = die;
  nameless["Actor"]["Attributes"].erase("name");
  CHECK(edged::event_line(nameless).empty());
  Json odd = die;
  odd["Actor"]["Attributes"]["exitCode"] = "x";
  CHECK_FALSE(Json::parse(edged::event_line(odd)).contains("exitCode"));
}

TEST_CASE("a module exit reaches the agent through edged's event stream", "[docker][integration]") {
  edge::test::TempDir dir;
  std::string name = "evt" + std::to_string(getpid());
  edged::docker::Client docker;
  (void)docker.remove_container(name, true);
  std::string owner = "events-test-" + name;  // no other test's agent sees this container
  edged::Management mgmt(
      edged::ManagementOptions{"/var/run/docker.sock", "agent-" + name, "1.5.0", owner});
  edge::http::Server server([&](edge::http::Request& r) { return mgmt.handle(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "mgmt.sock")));
  std::thread t([&] { server.run(); });
  std::mutex m;
  std::vector<agent::ModuleEvent> seen;
  std::vector<double> when;  // unix seconds at receipt
  {
    agent::ModuleEvents events(dir / "mgmt.sock", "2022-08-03", [&](const agent::ModuleEvent& e) {
      std::lock_guard lock(m);
      if (!e.name.empty()) {  // "" marks a reconnect
        seen.push_back(e);
        when.push_back(
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count());
      }
    });
    for (int i = 0; i < 100 && !events.streaming(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(events.streaming());
    // A container edged manages (owner label) that exits with 7 after a short while.
    Json create{{"Image", "edge-test-busybox:1"},
                {"Cmd", {"/bin/sh", "-c", "sleep 1; exit 7"}},
                {"Labels", {{edged::kOwnerLabel, owner}}}};
    REQUIRE(docker.create_container(name, create));
    REQUIRE(docker.start(name));
    // Containers of other owners are not reported.
    std::string stranger = name + "s";
    REQUIRE(docker.create_container(stranger,
                                    Json{{"Image", "edge-test-busybox:1"},
                                         {"Cmd", {"true"}},
                                         {"Labels", {{edged::kOwnerLabel, owner + "-other"}}}}));
    REQUIRE(docker.start(stranger));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(300));  // the stranger's events would arrive
    bool died = false;
    for (int i = 0; i < 100 && !died; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::lock_guard lock(m);
      for (const auto& e : seen) died = died || (e.name == name && e.action == "die");
    }
    auto exited = docker.inspect_container(name);
    (void)docker.remove_container(stranger, true);
    REQUIRE(died);
    std::lock_guard lock(m);
    std::vector<std::string> actions;
    for (const auto& e : seen) actions.push_back(e.action);
    CHECK(actions[0] == "create");
    for (const auto& e : seen) CHECK(e.name == name);
    CHECK(std::find(actions.begin(), actions.end(), "start") != actions.end());
    auto die = std::find_if(seen.begin(), seen.end(),
                            [&](const auto& e) { return e.name == name && e.action == "die"; });
    CHECK(die->exit_code == 7);
    // Seen within a second of the engine's finish time.
    REQUIRE(exited);
    std::string finished = (*exited)["State"].value("FinishedAt", "");
    std::tm tm{};
    const char* rest = strptime(finished.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    REQUIRE(rest);
    double finished_at = static_cast<double>(timegm(&tm)) +
                         (*rest == '.' ? std::atof(("0" + std::string(rest)).c_str()) : 0);
    double latency = when[static_cast<size_t>(die - seen.begin())] - finished_at;
    INFO("exit noticed after " << latency << " s");
    CHECK(latency < 1.0);
  }  // the watcher stops here (within edged's keep-alive period)
  (void)docker.remove_container(name, true);
  server.stop();
  t.join();
}
