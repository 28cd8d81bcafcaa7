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
#include "tests/support/harness.h"

using edge::http::Json;
using edged::docker::Client;

namespace {
const std::string kImage = "edge-test-busybox:1";
constexpr int kPeriodMs = 1500;

bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

struct Stack {
  edge::test::TempDir dir;
  std::string suffix =
      std::to_string(getpid()) + "-" + std::to_string(std::random_device{}() % 100000);
  std::string emu_host;
  std::string agent = "edgeAgent-" + suffix;
  std::string network = "edged-net-" + suffix;
  std::string scope = "edged.test.scope=" + suffix;
  std::string homedir = dir / "edged-home";
  std::unique_ptr<edge::test::Process> emulator, keyd, certd, identityd, edged;
  Client docker;
  int subnet = static_cast<int>(std::random_device{}() % 200) + 20;

  Stack() {
    std::random_device rd;
    emu_host = "127." + std::to_string(20 + rd() % 200) + "." + std::to_string(rd() % 250 + 1) +
               "." + std::to_string(rd() % 250 + 1);
    std::string state = dir / "emu";
    emulator = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("iothub-emulator"), "--state-dir", state,
                                 "--hostname", emu_host, "--bind", emu_host, "--no-websockets"},
        std::map<std::string, std::string>{}, dir / "emulator.log");
    REQUIRE(wait_until([&] { return ::access((state + "/info.json").c_str(), F_OK) == 0; },
                       std::chrono::seconds(30)));
    std::string out;
    int rc =
        edge::test::run("curl -sf --cacert " + state +
                            "/ca.pem -H 'Content-Type: application/json' -X POST "
                            "https://" +
                            emu_host + "/admin/devices -d '{\"deviceId\":\"dev1\",\"edge\":true}'",
                        &out);
    INFO(out);
    REQUIRE(rc == 0);
    std::string cs = Json::parse(out)["connectionString"];
    std::string key = cs.substr(cs.find("SharedAccessKey=") + 16);

    edge::test::write_file(dir / "keyd.toml", "[aziot_keys]\nhomedir_path = \"" +
                                                  dir / "keyd-home" +
                                                  "\"\n[endpoints]\naziot_keyd = \"unix://" +
                                                  dir / "keyd.sock" + "\"\n");
    keyd = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("aziot-keyd")},
        std::map<std::string, std::string>{{"AZIOT_KEYD_CONFIG", dir / "keyd.toml"},
                                           {"AZIOT_KEYD_CONFIG_DIR", dir / "keyd.d"}},
        dir / "keyd.log");
    REQUIRE(edge::test::wait_for_socket(dir / "keyd.sock"));
    edge::http::UnixClient keyd_client(dir / "keyd.sock");
    auto imported =
        edge::test::call(keyd_client, "POST", "/key?api-version=2021-05-01",
                         Json{{"keyId", "device-id"}, {"keyBytes", key}, {"usage", "derive,sign"}});
    REQUIRE(imported.status == 200);

    // certd: edged makes sure of the quickstart Edge CA through it at start-up.
    edge::test::write_file(
        dir / "certd.toml",
        "homedir_path = \"" + dir / "certd-home" +
            "\"\n[cert_issuance]\naziot-edged-ca = { method = \"self_signed\", expiry_days = 90 }\n"
            "[preloaded_certs]\naziot-edged-trust-bundle = [\"aziot-edged-ca\"]\n"
            "[endpoints]\naziot_certd = \"unix://" + dir / "certd.sock" + "\"\naziot_keyd = \"unix://" +
            dir / "keyd.sock" + "\"\n");
    certd = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("aziot-certd")},
        std::map<std::string, std::string>{{"AZIOT_CERTD_CONFIG", dir / "certd.toml"},
                                           {"AZIOT_CERTD_CONFIG_DIR", dir / "certd.d"}},
        dir / "certd.log");
    REQUIRE(edge::test::wait_for_socket(dir / "certd.sock"));

    edge::test::write_file(
        dir / "identityd.toml",
        "hostname = \"edge-host\"\nhomedir = \"" + dir / "identityd-home" +
            "\"\n[provisioning]\nsource = \"manual\"\niothub_hostname = \"" + emu_host +
            "\"\ndevice_id = \"dev1\"\n[provisioning.authentication]\nmethod = "
            "\"sas\"\ndevice_id_pk = \"device-id\"\n"
            "[endpoints]\naziot_identityd = \"unix://" +
            dir / "identityd.sock" + "\"\naziot_keyd = \"unix://" + dir / "keyd.sock" +
            "\"\naziot_certd = \"unix://" + dir / "certd.sock" + "\"\n");
    identityd = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("aziot-identityd")},
        std::map<std::string, std::string>{{"AZIOT_IDENTITYD_CONFIG", dir / "identityd.toml"},
                                           {"AZIOT_IDENTITYD_CONFIG_DIR", dir / "identityd.d"},
                                           {"SSL_CERT_FILE", state + "/ca.pem"}},
        dir / "identityd.log");
    REQUIRE(edge::test::wait_for_socket(dir / "identityd.sock", std::chrono::seconds(30)));
    write_edged_config("unix:///var/run/docker.sock");
  }
  ~Stack() {
    if (edged) edged->stop();
    for (const auto& c : docker.list_containers({scope}).value_or(std::vector<Json>{}))
      (void)docker.remove_container(c.value("Id", ""), true);
    (void)docker.remove_network(network);
    identityd->stop();
    if (certd) certd->stop();
    keyd->stop();
    emulator->stop();
  }

  void write_edged_config(const std::string& moby_uri) {
    std::filesystem::create_directories(dir / "edged.d");
    std::string net = std::to_string(subnet);
    edge::test::write_file(dir / "edged.d/00-super.toml", R"(
hostname = "EdgeHost-)" + suffix + R"("
homedir = ")" + homedir + R"("
auto_reprovisioning_mode = "OnErrorOnly"

[agent]
name = ")" + agent + R"("
type = "docker"
imagePullPolicy = "never"

[agent.config]
image = ")" + kImage + R"("
createOptions = { Cmd = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"], HostConfig = { Binds = [")" +
                                                              dir.path() + R"(/data:/data"] } }

[agent.config.auth]

[agent.env]
RuntimeLogLevel = "debug"
UpstreamProtocol = "AmqpWs"

[connect]
workload_uri = "unix://)" + dir.path() + R"(/workload.sock"
management_uri = "unix://)" + dir.path() + R"(/mgmt.sock"

[listen]
workload_uri = "unix://)" + dir.path() + R"(/workload.sock"
management_uri = "unix://)" + dir.path() + R"(/mgmt.sock"

[endpoints]
aziot_identityd_url = "unix://)" + dir.path() + R"(/identityd.sock"
aziot_keyd_url = "unix://)" + dir.path() + R"(/keyd.sock"
aziot_certd_url = "unix://)" + dir.path() + R"(/certd.sock"

[watchdog]
max_retries = "infinite"

[moby_runtime]
uri = ")" + moby_uri + R"("

[moby_runtime.network]
name = ")" + network + R"("
ipv6 = true

[[moby_runtime.network.ipam.config]]
gateway = "10.231.)" + net + R"(.1"
subnet = "10.231.)" + net + R"(.0/24"

[[moby_runtime.network.ipam.config]]
gateway = "fd7e:231:)" + net + R"(::1"
subnet = "fd7e:231:)" + net + R"(::/64"
)");
  }

  void start_edged() {
    edged = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("aziot-edged")},
        std::map<std::string, std::string>{
            {"AZIOT_EDGED_CONFIG", dir / "none.toml"},
            {"AZIOT_EDGED_CONFIG_DIR", dir / "edged.d"},
            {"AZIOT_EDGED_SCOPE_LABEL", scope},
            {"AZIOT_EDGED_WATCHDOG_PERIOD_MS", std::to_string(kPeriodMs)},
            {"AZIOT_LOG", "debug"}},
        dir / "edged.log");
  }
  Json agent_info() {
    auto i = docker.inspect_container(agent);
    return i ? *i : Json();
  }
  bool agent_running() {
    Json i = agent_info();
    return i.is_object() && i["State"].value("Running", false);
  }
  std::string log() { return edge::test::read_file(dir / "edged.log"); }
  // A running module container. It carries only the scope label: other tests' agents on this
  // engine remove owner-labelled containers missing from their deployments.
  void create_module(const std::string& name) {
    Json body{{"Image", kImage},
              {"Cmd", {"/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}},
              {"Labels", {{scope.substr(0, scope.find('=')), suffix}}}};
    REQUIRE(docker.create_container(name, body));
    REQUIRE(docker.start(name));
  }
};

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
