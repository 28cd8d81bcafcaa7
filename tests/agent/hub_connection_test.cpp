// The agent's hub connection in-process against the emulator: twin GET at connect, reported
// diffs acknowledged, desired patches followed across SAS-token renewals (a new session with a
// new token), direct methods through the handler, and reconnecting after the hub went away.
#include "agent/upstream/hub_connection.h"

#include <catch2/catch.hpp>
#include <thread>

#include "tests/agent/hub_fixture.h"

using namespace agent::upstream;
using agent_test::HubEmulator;
using namespace std::chrono_literals;

namespace {
template <class F>
bool eventually(F f, int seconds = 20) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

Settings settings_for(const HubEmulator& hub, const std::string& device) {
  Settings s;
  s.iothub_hostname = hub.address();
  s.device_id = device;
  s.generation_id = "gen1";
  s.token_lifetime = 4s;  // renewed after 85 %: several sessions within the test
  return s;
}
}  // namespace

TEST_CASE("the hub connection follows the twin across token renewals and answers methods",
          "[integration]") {
  HubEmulator hub;
  std::string key = hub.create_edge_device("edge1");
  std::atomic<int> calls{0};
  HubConnection conn(settings_for(hub, "edge1"), std::make_shared<KeySigner>(edge::Secret(key)),
                     hub.ca_pem(), [&](const std::string& name, const std::string& payload) {
                       ++calls;
                       return MethodResult{
                           201,
                           Json{{"name", name}, {"echo", Json::parse(payload, nullptr, false)}}};
                     });
  conn.start();
  REQUIRE(eventually([&] { return conn.desired().has_value(); }));
  long long v0 = conn.desired()->value("$version", -1LL);

  // Reported: the full state goes up as a diff and is acknowledged.
  conn.report(Json{{"lastDesiredStatus", {{"code", 200}, {"description", ""}}},
                   {"modules", {{"m1", {{"runtimeStatus", "running"}}}}}});
  REQUIRE(eventually(
      [&] { return hub.agent_twin("edge1")["properties"]["reported"].contains("modules"); }));
  conn.report(Json{{"lastDesiredStatus", {{"code", 200}, {"description", ""}}},
                   {"modules", Json::object()}});
  REQUIRE(eventually([&] {
    auto r = hub.agent_twin("edge1")["properties"]["reported"];
    return r.contains("modules") && !r["modules"].contains("m1");  // removed module: sent as null
  }));

  // Past two renewals the session still follows desired patches.
  std::this_thread::sleep_for(7s);
  auto patched = hub.call("PATCH", "/admin/twins/edge1/modules/%24edgeAgent",
                          Json{{"properties", {{"desired", {{"schemaVersion", "1.1"}}}}}});
  REQUIRE(patched.status == 200);
  REQUIRE(eventually([&] { return conn.desired()->value("$version", -1LL) > v0; }));
  CHECK(conn.desired()->value("schemaVersion", "") == "1.1");

  // A direct method reaches the handler and its answer reaches the caller.
  REQUIRE(eventually([&] {
    auto d = hub.call("GET", "/admin/devices/edge1");
    auto c = d.json["connections"].value("edge1/$edgeAgent", Json());
    return c.is_object() && c.value("connected", false) && c["subscriptions"].size() >= 2;
  }));
  auto m = hub.call("POST", "/admin/methods/edge1/modules/%24edgeAgent",
                    Json{{"methodName", "ping"}, {"payload", {{"x", 1}}}});
  INFO(m.body);
  REQUIRE(m.status == 200);
  CHECK(m.json == Json{{"status", 201}, {"payload", {{"name", "ping"}, {"echo", {{"x", 1}}}}}});
  CHECK(calls == 1);
  CHECK(conn.last_error().empty());
  conn.stop();
}

TEST_CASE("the hub connection reports refused credentials and keeps retrying", "[integration]") {
  HubEmulator hub;
  hub.create_edge_device("edge1");
  HubConnection conn(
      settings_for(hub, "edge1"),
      std::make_shared<KeySigner>(edge::Secret("d3JvbmcgbW9kdWxlIGtleSB3cm9uZyBtb2R1bGUga2V5IQ==")),
      hub.ca_pem(), nullptr);
  conn.start();
  REQUIRE(eventually([&] { return !conn.last_error().empty(); }));
  CHECK_THAT(conn.last_error(), Catch::Contains("not authorized"));
  CHECK_FALSE(conn.connected());
  CHECK_FALSE(conn.desired());
  conn.stop();
}
