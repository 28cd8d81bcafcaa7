// aziot-edged end to end: the hub emulator, keyd and identityd (manual SAS) give the device
// identity; edged creates the network, starts the agent container (checked with docker inspect),
// its watchdog restarts a killed and a removed agent, SIGTERM stops it cleanly, a device
// change removes the modules, and an unreachable engine is a clear start-up failure.
// Every container carries a per-test scope label (AZIOT_EDGED_SCOPE_LABEL): the engine is shared.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <thread>

#include "common/base64.h"
#include "edged/device_info.h"
#include "edged/docker.h"
#include "tests/edged/runtime_stack.h"
#include "tests/support/harness.h"

using edge::http::Json;
using edged::docker::Client;

namespace {
using namespace runtime_stack;

std::map<std::string, std::string> env_map(const Json& info) {
  std::map<std::string, std::string> env;
  for (const auto& e : info["Config"]["Env"]) {
    std::string s = e;
    env[s.substr(0, s.find('='))] = s.substr(s.find('=') + 1);
  }
  return env;
}
}  // namespace

TEST_CASE("edged starts the agent container as upstream and its watchdog keeps it running",
          "[docker][e2e]") {
  Stack s;
  std::string stale = "edged-stale-" + s.suffix;
  s.create_module(stale);  // a module from "before": the first run sees a new device and removes it
  s.start_edged();
  bool up = wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60));
  INFO(s.log());
  REQUIRE(up);
  CHECK_FALSE(s.docker.inspect_container(stale));
  CHECK(edge::test::read_file(s.homedir + "/cache/provisioning_state") ==
        edged::provisioning_digest({"dev1", s.emu_host, s.emu_host}));

  Json info = s.agent_info();
  auto env = env_map(info);
  CHECK(env["EdgeDeviceHostName"] == "EdgeHost-" + s.suffix);
  CHECK(env["IOTEDGE_APIVERSION"] == "2022-08-03");
  CHECK(env["IOTEDGE_AUTHSCHEME"] == "sasToken");
  CHECK(env["IOTEDGE_DEVICEID"] == "dev1");
  CHECK(env["IOTEDGE_IOTHUBHOSTNAME"] == s.emu_host);
  CHECK_FALSE(env.contains("IOTEDGE_GATEWAYHOSTNAME"));
  CHECK(env["IOTEDGE_MODULEID"] == "$edgeAgent");
  CHECK_FALSE(env["IOTEDGE_MODULEGENERATIONID"].empty());  // the hub's $edgeAgent identity
  CHECK(env["IOTEDGE_WORKLOADURI"] == "unix://" + s.dir / "workload.sock");
  CHECK(env["IOTEDGE_MANAGEMENTURI"] == "unix://" + s.dir / "mgmt.sock");
  CHECK(env["IOTEDGE_WORKLOADLISTEN_MNTURI"] == "unix://" + s.homedir + "/mnt");
  CHECK(env["Mode"] == "iotedged");
  CHECK(env["NetworkId"] == s.network);
  CHECK(env["RuntimeLogLevel"] == "debug");
  CHECK(env["UpstreamProtocol"] == "AmqpWs");
  Json binds = info["HostConfig"]["Binds"];
  CHECK(binds == Json::array({s.dir / "data:/data", s.dir / "mgmt.sock:" + s.dir / "mgmt.sock",
                              s.homedir + "/mnt/" + s.agent + ".sock:" + s.dir / "workload.sock"}));
  Json labels = info["Config"]["Labels"];
  CHECK(labels["net.azure-devices.edge.owner"] == "Microsoft.Azure.Devices.Edge.Agent");
  CHECK(labels["net.azure-devices.edge.original-image"] == kImage);
  CHECK(labels["net.azure-devices.edge.create-options"] == "{}");
  CHECK(labels["net.azure-devices.edge.env"] == "{}");
  CHECK(info["NetworkSettings"]["Networks"].contains(s.network));
  CHECK(info["Name"] == "/" + s.agent);

  auto net = s.docker.inspect_network(s.network);
  REQUIRE(net);
  CHECK((*net)["EnableIPv6"] == true);
  REQUIRE((*net)["IPAM"]["Config"].size() == 2);
  CHECK((*net)["IPAM"]["Config"][0]["Subnet"] == "10.231." + std::to_string(s.subnet) + ".0/24");

  // The management API answers on its socket (the agent's bind source).
  edge::http::UnixClient mgmt(s.dir / "mgmt.sock");
  CHECK(edge::test::call(mgmt, "GET", "/modules?api-version=2022-08-03").status == 200);

  // Killed: started again within the watchdog period.
  std::string started = info["State"]["StartedAt"];
  REQUIRE(s.docker.kill(s.agent));
  REQUIRE(wait_until([&] { return !s.agent_running(); }, std::chrono::seconds(10)));
  CHECK(wait_until([&] { return s.agent_running(); }, std::chrono::milliseconds(kPeriodMs * 3)));
  CHECK(s.agent_info()["State"]["StartedAt"] != started);
  std::string id = s.agent_info()["Id"];

  // Removed: created again within the watchdog period.
  REQUIRE(s.docker.remove_container(s.agent, true));
  CHECK(wait_until([&] { return s.agent_running(); }, std::chrono::milliseconds(kPeriodMs * 3)));
  CHECK(s.agent_info()["Id"] != id);

  // SIGTERM: edged stops the modules and exits 0.
  s.edged->kill(SIGTERM);
  CHECK(s.edged->wait() == 0);
  CHECK_FALSE(s.agent_running());
  CHECK_THAT(s.log(), Catch::Contains("shutting down") && Catch::Contains("All modules stopped"));
  CHECK_FALSE(::access((s.dir / "mgmt.sock").c_str(), F_OK) == 0);
}

TEST_CASE("edged restarts modules on start and removes them when the device changed",
          "[docker][e2e]") {
  Stack s;
  s.start_edged();
  REQUIRE(wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60)));
  s.edged->stop();
  std::string module = "edged-module-" + s.suffix;
  s.create_module(module);

  // Same device: the module is stopped (stale sockets), not removed; the agent comes back.
  s.start_edged();
  REQUIRE(wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60)));
  auto m = s.docker.inspect_container(module);
  INFO(s.log());
  REQUIRE(m);
  CHECK((*m)["State"]["Running"] == false);
  CHECK_THAT(s.log(), Catch::Contains("Device information has not changed"));
  s.edged->stop();

  // Another device (the cached digest differs): every module is removed.
  edge::test::write_file(s.homedir + "/cache/provisioning_state", "another device");
  s.start_edged();
  REQUIRE(wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60)));
  CHECK_FALSE(s.docker.inspect_container(module));
  INFO(s.log());
  CHECK_THAT(s.log(), Catch::Contains("Change to device information detected"));
}

TEST_CASE("edged exits 1 naming the engine when dockerd is unreachable", "[docker][e2e]") {
  Stack s;
  s.write_edged_config("unix://" + s.dir / "no-dockerd.sock");
  s.start_edged();
  int code = s.edged->wait();
  INFO(s.log());
  CHECK(code == 1);  // systemd restarts it (Restart=on-failure, not 153)
  CHECK_THAT(s.log(), Catch::Contains("Failed to initialize module runtime") &&
                          Catch::Contains("no-dockerd.sock"));
  CHECK_FALSE(s.docker.inspect_container(s.agent));
}

TEST_CASE("edged waits for identityd and stops cleanly while waiting", "[e2e]") {
  edge::test::TempDir dir;
  std::filesystem::create_directories(dir / "edged.d");
  edge::test::write_file(dir / "edged.d/00-super.toml",
                         "hostname = \"h\"\nhomedir = \"" + dir / "home" +
                             "\"\n[endpoints]\naziot_identityd = \"unix://" + dir / "absent.sock" +
                             "\"\n");
  edge::test::Process edged(
      {edge::test::bin("aziot-edged")},
      {{"AZIOT_EDGED_CONFIG", dir / "none.toml"}, {"AZIOT_EDGED_CONFIG_DIR", dir / "edged.d"}},
      dir / "edged.log");
  REQUIRE(wait_until(
      [&] { return edged.log().find("Waiting for Identity Service") != std::string::npos; },
      std::chrono::seconds(10)));
  CHECK(edged.running());
  edged.kill(SIGTERM);
  CHECK(edged.wait() == 0);
}
