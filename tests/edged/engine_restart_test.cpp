// The container engine going away underneath a running edged and coming back. The engine is
// shared with parallel tests, so edged reaches it through a socat relay of this test's own:
// stopping the relay is, for edged, dockerd stopped (its socket gone), and starting it again is
// dockerd back.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/edged/runtime_stack.h"

using namespace runtime_stack;

namespace {
std::unique_ptr<edge::test::Process> start_relay(const std::string& socket, const std::string& log) {
  std::filesystem::remove(socket);
  auto relay = std::make_unique<edge::test::Process>(
      std::vector<std::string>{"/usr/bin/socat", "UNIX-LISTEN:" + socket + ",fork",
                               "UNIX-CONNECT:/var/run/docker.sock"},
      std::map<std::string, std::string>{}, log);
  REQUIRE(edge::test::wait_for_socket(socket));
  return relay;
}

edge::test::Reply list_modules(const std::string& mgmt) {
  edge::http::UnixClient client(mgmt);
  return edge::test::call(client, "GET", "/modules?api-version=2022-08-03");
}

bool lists(const edge::test::Reply& r, const std::string& name) {
  if (r.status != 200) return false;
  for (const auto& m : r.json["modules"])
    if (m.value("name", "") == name) return true;
  return false;
}
}  // namespace

TEST_CASE("edged keeps serving while the engine is down and recovers the agent when it is back",
          "[docker][e2e]") {
  Stack s;
  std::string engine = s.dir / "engine.sock";
  auto relay = start_relay(engine, s.dir / "relay.log");
  s.write_edged_config("unix://" + engine);
  s.start_edged();
  REQUIRE(wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60)));
  std::string mgmt = s.dir / "mgmt.sock";
  INFO(list_modules(mgmt).body);
  REQUIRE(wait_until([&] { return lists(list_modules(mgmt), s.agent); },
                     std::chrono::seconds(20)));

  // The engine goes away; meanwhile the agent dies (as its container would with dockerd).
  relay->stop();
  std::filesystem::remove(engine);
  REQUIRE(s.docker.remove_container(s.agent, true));

  auto down = list_modules(mgmt);
  INFO(down.body);
  CHECK(down.status == 500);
  CHECK_THAT(down.json.value("message", ""), Catch::Contains("engine.sock"));
  // Several watchdog periods without an engine: edged stays up and keeps answering.
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kPeriodMs));
  CHECK(s.edged->running());
  CHECK(list_modules(mgmt).status == 500);

  // The engine is back: the watchdog re-creates the agent and the API lists it again.
  relay = start_relay(engine, s.dir / "relay2.log");
  bool back = wait_until([&] { return s.agent_running(); }, std::chrono::seconds(30));
  INFO(s.log());
  CHECK(back);
  CHECK(wait_until([&] { return lists(list_modules(mgmt), s.agent); },
                   std::chrono::seconds(10)));
  CHECK(s.edged->running());
  relay->stop();
}
