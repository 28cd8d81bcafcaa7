// The full runtime stack of the edged end-to-end tests: the hub emulator on a private loopback
// address, keyd, certd (quickstart Edge CA), identityd (manual SAS) and aziot-edged with a
// busybox "agent". Every container carries a per-test scope label (AZIOT_EDGED_SCOPE_LABEL):
// the engine is shared.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "edged/docker.h"
#include "tests/support/harness.h"

namespace runtime_stack {
using edge::http::Json;
using edged::docker::Client;

inline const std::string kImage = "edge-test-busybox:1";
constexpr int kPeriodMs = 1500;

inline bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

// A 10.231.N.0/24 (and fd7e:231:N::/64) subnet for one stack's module network: free in the
// engine and claimed with a lock file for the claim's life, so stacks running at the same time
// (parallel tests) never ask the engine for overlapping pools.
struct SubnetClaim {
  SubnetClaim() {
    std::string used;
    if (auto nets = Client().list_networks(Json::object()))
      for (const auto& n : *nets) used += n.dump();
    int start = static_cast<int>(std::random_device{}() % 200);
    for (int i = 0; i < 200 && fd < 0; ++i) {
      int n = (start + i) % 200 + 20;
      if (used.find("10.231." + std::to_string(n) + ".") != std::string::npos) continue;
      int f = ::open(("/tmp/edged-test-subnet-" + std::to_string(n) + ".lock").c_str(),
                     O_CREAT | O_RDWR | O_CLOEXEC, 0600);
      if (f >= 0 && ::flock(f, LOCK_EX | LOCK_NB) == 0) {
        fd = f;
        value = n;
      } else if (f >= 0) {
        ::close(f);
      }
    }
  }
  ~SubnetClaim() {
    if (fd >= 0) ::close(fd);
  }
  SubnetClaim(const SubnetClaim&) = delete;
  SubnetClaim& operator=(const SubnetClaim&) = delete;
  int fd = -1;
  int value = 20;
};

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
  SubnetClaim subnet_claim;
  int subnet = subnet_claim.value;

  // Quickstart Edge CA lifetime; renewal tests use 1 day with a threshold just under it.
  explicit Stack(int ca_expiry_days = 90) {
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
            "\"\n[cert_issuance]\naziot-edged-ca = { method = \"self_signed\", expiry_days = " +
            std::to_string(ca_expiry_days) + " }\naziot-edged-ca-temp = { method = \"self_signed\", expiry_days = " +
            std::to_string(ca_expiry_days) + " }\n"
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

  // `extra`: more TOML at the end (new tables); `agent_auth`: keys of [agent.config.auth];
  // `listen_*`: the [listen] URIs (default: unix:// sockets in the test directory).
  void write_edged_config(const std::string& moby_uri, const std::string& extra = "",
                          const std::string& agent_auth = "", std::string listen_workload = "",
                          std::string listen_mgmt = "") {
    if (listen_workload.empty()) listen_workload = "unix://" + dir / "workload.sock";
    if (listen_mgmt.empty()) listen_mgmt = "unix://" + dir / "mgmt.sock";
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
)" + agent_auth + R"(

[agent.env]
RuntimeLogLevel = "debug"
UpstreamProtocol = "AmqpWs"

[connect]
workload_uri = "unix://)" + dir.path() + R"(/workload.sock"
management_uri = "unix://)" + dir.path() + R"(/mgmt.sock"

[listen]
workload_uri = ")" + listen_workload + R"("
management_uri = ")" + listen_mgmt + R"("

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
)" + extra);
  }

  std::map<std::string, std::string> extra_env;  // more environment for edged
  std::map<std::string, std::string> edged_env() const {
    std::map<std::string, std::string> env{
        {"AZIOT_EDGED_CONFIG", dir / "none.toml"},
        {"AZIOT_EDGED_CONFIG_DIR", dir / "edged.d"},
        {"AZIOT_EDGED_SCOPE_LABEL", scope},
        {"AZIOT_EDGED_WATCHDOG_PERIOD_MS", std::to_string(kPeriodMs)},
        {"AZIOT_LOG", "debug"}};
    for (const auto& [k, v] : extra_env) env[k] = v;
    return env;
  }
  void start_edged() {
    edged = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("aziot-edged")}, edged_env(), dir / "edged.log");
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

}  // namespace runtime_stack
