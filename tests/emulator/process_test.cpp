// The one-command start: iothub-emulator on unprivileged ports, its admin API over TLS with the
// generated CA, persistence across a restart.
#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/fs.h"
#include "emulator/launcher.h"
#include "tests/support/harness.h"

using nlohmann::json;
using namespace edge::test;

namespace {

struct Running {
  Running(const TempDir& dir, int https, int mqtt)
      : stale_removed(edge::fs::remove_file(dir / "state/info.json").has_value()),
        process({bin("iothub-emulator"), "--state-dir", dir / "state", "--hostname", "localhost",
                 "--bind", "127.0.0.1", "--https-port", std::to_string(https), "--mqtt-port",
                 std::to_string(mqtt)},
                {}, dir / "emulator.log") {
    for (int i = 0; i < 200 && !edge::fs::exists(dir / "state/info.json"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~Running() { process.stop(); }
  bool stale_removed;  // a previous run's info.json is not a ready signal
  Process process;
};

std::unique_ptr<httplib::SSLClient> client(const TempDir& dir, int port) {
  auto c = std::make_unique<httplib::SSLClient>("localhost", port);
  c->set_ca_cert_path((dir / "state/ca.pem").c_str());
  c->enable_server_certificate_verification(true);
  c->set_connection_timeout(5);
  c->set_read_timeout(5);
  return c;
}

}  // namespace

TEST_CASE("the emulator starts with one command, serves its admin API and keeps state") {
  TempDir dir;
  int https = emulator::free_loopback_port(), mqtt = emulator::free_loopback_port();
  std::string key;
  {
    Running emu(dir, https, mqtt);
    INFO(emu.process.log());
    REQUIRE(edge::fs::exists(dir / "state/info.json"));
    auto client_ptr = client(dir, https);
    auto& c = *client_ptr;
    auto info = c.Get("/admin/info");
    REQUIRE(info);
    REQUIRE(info->status == 200);
    json i = json::parse(info->body);
    CHECK(i["mqttPort"] == mqtt);
    CHECK(i["hostname"] == "localhost");
    CHECK(i["serviceConnectionString"].get<std::string>().starts_with(
        "HostName=localhost;SharedAccessKeyName=iothubowner;"));
    auto created =
        c.Post("/admin/devices", R"({"deviceId":"edge1","edge":true})", "application/json");
    REQUIRE(created);
    REQUIRE(created->status == 200);
    json d = json::parse(created->body);
    CHECK(d["modules"].contains("$edgeAgent"));
    key = d["device"]["authentication"]["symmetricKey"]["primaryKey"];
    auto twin = c.Get("/admin/twins/edge1/modules/%24edgeAgent");
    REQUIRE(twin);
    CHECK(twin->status == 200);
    CHECK(c.Get("/admin/twins/nobody")->status == 404);
    CHECK(c.Get("/devices/edge1?api-version=2021-04-12")->status ==
          401);  // the service API needs a token
    std::string manifest =
        R"({"modulesContent":{"$edgeAgent":{"properties.desired":{"schemaVersion":"1.1","modules":{}}},)"
        R"("$edgeHub":{"properties.desired":{"schemaVersion":"1.1","routes":{}}}}})";
    CHECK(c.Post("/admin/devices/edge1/deployment", manifest, "application/json")->status == 204);
    auto agent = c.Get("/admin/twins/edge1/modules/%24edgeAgent");
    REQUIRE(agent);
    CHECK(json::parse(agent->body)["properties"]["desired"]["schemaVersion"] == "1.1");
    auto patched =
        c.Patch("/admin/twins/edge1", R"({"tags":{"site":"lab"},"properties":{"desired":{"x":1}}})",
                "application/json");
    REQUIRE(patched);
    CHECK(json::parse(patched->body)["properties"]["desired"]["x"] == 1);
    auto offline =
        c.Post("/admin/methods/edge1", R"({"methodName":"ping","responseTimeoutInSeconds":5})",
               "application/json");
    REQUIRE(offline);
    CHECK(offline->status == 404);
    CHECK(json::parse(offline->body)["Message"].get<std::string>().starts_with(
        "ErrorCode:DeviceNotOnline;"));
  }
  Running again(dir, https, mqtt);
  auto client_ptr = client(dir, https);
  auto& c = *client_ptr;
  auto device = c.Get("/admin/devices/edge1");
  REQUIRE(device);
  REQUIRE(device->status == 200);
  CHECK(json::parse(device->body)["device"]["authentication"]["symmetricKey"]["primaryKey"] == key);
}

TEST_CASE("the generated broker configuration relays TLS through the front") {
  emulator::LaunchOptions o;
  o.settings.state_dir = "/s";
  o.settings.mqtt_backend_port = 40001;
  o.settings.websocket_backend_port = 40002;
  o.plugin_path = "/p.so";
  std::string conf = emulator::mosquitto_config(o, true);
  CHECK(conf.find("listener 40001 127.0.0.1\n") != std::string::npos);
  CHECK(conf.find("listener 40002 127.0.0.1\nprotocol websockets\n") != std::string::npos);
  CHECK(conf.find("plugin /p.so\nplugin_opt_config /s/emulator.json\n") != std::string::npos);
  CHECK(conf.find("allow_anonymous false") != std::string::npos);
  CHECK(conf.find("user root") != std::string::npos);
  CHECK(emulator::mosquitto_config(o, false).find("user root") == std::string::npos);
}
