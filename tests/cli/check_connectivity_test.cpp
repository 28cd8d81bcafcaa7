// `iotedge check` connectivity: the host's TLS handshakes with the hub emulator (ports 443 /
// 8883 open, 5671 closed), and the checks upstream runs in a container, run in our diagnostics
// image on the default network and on the module network. The emulator listens on the
// gateway address of a docker network made for the test, so containers reach it too.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/http/server.h"
#include "common/uri.h"
#include "tests/cli/check_support.h"

using namespace edge::test;

namespace {

// A TCP port free on `address` right now.
int free_port_on(const std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Docker objects of one test, removed at the end (only these, by name).
struct DockerScope {
  std::string suffix = std::to_string(::getpid()) + "-" + std::to_string(std::random_device()() % 100000);
  std::string network = "chk-net-" + suffix;
  std::string image = "iotedge-lite/azureiotedge-diagnostics:chk-" + suffix;
  std::string gateway;
  DockerScope() {
    REQUIRE(run("docker network create " + network + " >/dev/null") == 0);
    run("docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' " + network, &gateway);
    gateway = trim(gateway);
    REQUIRE(!gateway.empty());
  }
  ~DockerScope() {
    run("docker rmi -f " + image + " >/dev/null 2>&1");
    run("docker network rm " + network + " >/dev/null 2>&1");
  }
};

struct Emulator {
  std::string state;
  std::string host;
  std::unique_ptr<Process> process;
  Emulator(const std::string& dir, const std::string& address) : state(dir + "/emulator"), host(address) {
    REQUIRE(run(shell_quote(bin("iothub-emulator")) + " --state-dir " + shell_quote(state) + " --hostname " + host +
                " --bind " + host + " --init-only >/dev/null 2>&1") == 0);
  }
  void start(const std::string& log) {
    ::unlink((state + "/info.json").c_str());
    process = std::make_unique<Process>(
        std::vector<std::string>{bin("iothub-emulator"), "--state-dir", state, "--hostname", host, "--bind", host,
                                 "--no-websockets"},
        std::map<std::string, std::string>{}, log);
    for (int i = 0; i < 300 && ::access((state + "/info.json").c_str(), F_OK) != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    INFO(read_file(log));
    REQUIRE(::access((state + "/info.json").c_str(), F_OK) == 0);
  }
  ~Emulator() {
    if (process) process->stop();
  }
};

// A stand-in for edged's management socket: GET /modules answers 200.
struct MgmtStandIn {
  edge::http::Server server;
  std::thread thread;
  explicit MgmtStandIn(const std::string& path)
      : server([](edge::http::Request& r) {
          if (r.path.starts_with("/modules")) return edge::http::Response::json(200, Json{{"modules", Json::array()}});
          return edge::http::Response::error(404, "not found");
        },
               edge::http::ServerOptions{}) {
    run("mkdir -p " + shell_quote(path.substr(0, path.rfind('/'))));
    REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + path)));
    ::chmod(path.c_str(), 0666);
    thread = std::thread([this] { server.run(); });
  }
  ~MgmtStandIn() {
    server.stop();
    thread.join();
  }
};

}  // namespace

TEST_CASE("check connects to the hub from the host and from containers in the diagnostics image", "[check][docker]") {
  CheckSandbox s;
  DockerScope docker;
  Emulator emulator(s.dir.path(), docker.gateway);
  {
    std::string out;
    int rc = run("EXTRA_CA_FILE=" + shell_quote(emulator.state + "/ca.pem") + " " +
                     shell_quote(std::string(EDGE_SOURCE_DIR) + "/scripts/build-diagnostics-image.sh") + " " +
                     docker.image + " 2>&1",
                 &out);
    INFO(out);
    REQUIRE(rc == 0);
  }
  emulator.start(s.dir / "emulator.log");
  s.apply(manual_sas_config(docker.gateway) + "[moby_runtime]\nuri = \"unix:///var/run/docker.sock\"\nnetwork = \"" +
          docker.network + "\"\n");
  MgmtStandIn mgmt(s.root + "/var/run/iotedge/mgmt.sock");

  const std::string flags = s.base_flags(true) + " edge-agent-storage-mounted-from-host edge-hub-storage-mounted-from-host" +
                            " --diagnostics-image-name " + docker.image;
  const std::map<std::string, std::string> trust{{"SSL_CERT_FILE", emulator.state + "/ca.pem"}};
  auto r = s.check_json(flags, trust);
  INFO(r.output);
  REQUIRE(r.json.is_object());
  for (const char* id : {"host-connect-iothub-https", "host-connect-iothub-mqtt", "container-local-time",
                         "connect-management-uri", "container-default-connect-upstream-https",
                         "container-default-connect-upstream-mqtt", "container-connect-upstream-https",
                         "container-connect-upstream-mqtt"})
    CHECK(result_of(r.json, id) == "ok");
  // Nothing listens on 5671 (the emulator has no AMQP): the port is closed.
  CHECK(result_of(r.json, "host-connect-iothub-amqp") == "error");
  CHECK_THAT(details_of(r.json, "host-connect-iothub-amqp"),
             Catch::StartsWith("Could not connect to " + docker.gateway + " : could not complete TLS handshake") &&
                 Catch::Contains("Connection refused"));
  CHECK(result_of(r.json, "container-default-connect-upstream-amqp") == "error");
  CHECK_THAT(details_of(r.json, "container-default-connect-upstream-amqp"),
             Catch::StartsWith("Container on the default network could not connect to " + docker.gateway + ":5671"));
  CHECK_THAT(details_of(r.json, "container-connect-upstream-amqp"),
             Catch::StartsWith("Container on the " + docker.network + " network could not connect to " +
                               docker.gateway + ":5671"));
  CHECK(r.json["checks"]["container-local-time"]["additional_info"]["diff"].get<long long>() < 10);
  CHECK(r.json["checks"]["container-connect-upstream-https"]["additional_info"]["network_name"] == docker.network);
  CHECK(r.code == 1);

  // All green once AMQP is left out.
  auto ok = s.check_json("--dont-run host-connect-iothub-amqp container-default-connect-upstream-amqp"
                         " container-connect-upstream-amqp edge-hub-server-cert-hostname keyd-running"
                         " certd-running identityd-running " + flags,
                         trust);
  INFO(ok.output);
  CHECK(ok.code == 0);

  // Through an HTTP proxy (tinyproxy on the gateway address, reachable from containers too):
  // 443 goes through CONNECT, the host's and the container's.
  {
    int port = free_port_on(docker.gateway);
    write_file(s.dir / "tinyproxy.conf", "Port " + std::to_string(port) + "\nListen " + docker.gateway +
                                             "\nTimeout 20\nMaxClients 20\nLogLevel Connect\n");
    Process proxy({"/usr/bin/tinyproxy", "-d", "-c", s.dir / "tinyproxy.conf"}, {}, s.dir / "tinyproxy.log");
    for (int i = 0; i < 100 && run("bash -c 'exec 3<>/dev/tcp/" + docker.gateway + "/" + std::to_string(port) + "' 2>/dev/null") != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string proxy_uri = "http://" + docker.gateway + ":" + std::to_string(port);
    auto p = s.check_json("--proxy-uri " + proxy_uri + " " + flags, trust);
    INFO(p.output + read_file(s.dir / "tinyproxy.log"));
    CHECK(result_of(p.json, "host-connect-iothub-https") == "ok");
    CHECK(p.json["checks"]["host-connect-iothub-https"]["additional_info"]["proxy"] == proxy_uri);
    CHECK(result_of(p.json, "container-connect-upstream-https") == "ok");
    CHECK_THAT(read_file(s.dir / "tinyproxy.log"), Catch::Contains("CONNECT " + docker.gateway + ":443"));
    proxy.stop();
    // The proxy is gone: 443 fails, 8883 (never proxied) still connects.
    p = s.check_json("--proxy-uri " + proxy_uri + " " + flags, trust);
    CHECK(result_of(p.json, "host-connect-iothub-https") == "error");
    CHECK_THAT(details_of(p.json, "host-connect-iothub-https"), Catch::Contains("proxy"));
    CHECK(result_of(p.json, "host-connect-iothub-mqtt") == "ok");
  }

  // Without the emulator's CA the host's TLS handshake fails verification.
  auto untrusted = s.check_json(flags, {{"SSL_CERT_FILE", s.dir / "daemon.json"}});
  CHECK(result_of(untrusted.json, "host-connect-iothub-https") == "error");
  CHECK_THAT(details_of(untrusted.json, "host-connect-iothub-https"), Catch::Contains("certificate verify failed"));

  // DPS provisioning: the DPS endpoint is probed; the hub's name is unknown to the host checks.
  s.apply("hostname = \"my-device\"\n[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + docker.gateway +
          "/\"\nid_scope = \"0ne00000001\"\n[provisioning.attestation]\nmethod = \"symmetric_key\"\n"
          "registration_id = \"dev1\"\nsymmetric_key = { value = \"c2VjcmV0LWtleS1vZi10aGUtY2hlY2stdGVzdHM=\" }\n");
  auto dps = s.check_json(flags, trust);
  INFO(dps.output);
  CHECK(result_of(dps.json, "host-connect-dps-endpoint") == "ok");
  CHECK(dps.json["checks"]["host-connect-dps-endpoint"]["additional_info"]["dps_hostname"] == docker.gateway);
  CHECK(result_of(dps.json, "host-connect-iothub-mqtt") == "warning");
  CHECK_THAT(details_of(dps.json, "host-connect-iothub-mqtt"),
             Catch::StartsWith("Could not retrieve iothub_hostname from provisioning file."));
  // --iothub-hostname fills the gap.
  dps = s.check_json("--iothub-hostname " + docker.gateway + " " + flags, trust);
  CHECK(result_of(dps.json, "host-connect-iothub-mqtt") == "ok");
  CHECK(result_of(dps.json, "container-connect-upstream-mqtt") == "ok");

  // A hub that is down.
  emulator.process->stop();
  emulator.process.reset();
  auto down = s.check_json("--iothub-hostname " + docker.gateway + " " + flags, trust);
  CHECK(result_of(down.json, "host-connect-iothub-mqtt") == "error");
  CHECK(result_of(down.json, "container-connect-upstream-mqtt") == "error");
}

TEST_CASE("check runs the management URI and parent hostname checks in the diagnostics image", "[check][docker]") {
  CheckSandbox s;
  DockerScope docker;
  {
    std::string out;
    int rc = run(shell_quote(std::string(EDGE_SOURCE_DIR) + "/scripts/build-diagnostics-image.sh") + " " + docker.image + " 2>&1", &out);
    INFO(out);
    REQUIRE(rc == 0);
  }
  // Upstream's command line works against our image.
  std::string out;
  CHECK(run("docker run --rm " + docker.image + " dotnet IotedgeDiagnosticsDotnet.dll local-time", &out) == 0);
  CHECK(std::llabs(std::stoll(out) - static_cast<long long>(std::time(nullptr))) < 10);
  CHECK(run("docker run --rm --add-host parent-x:10.1.2.3 " + docker.image +
            " dotnet IotedgeDiagnosticsDotnet.dll parent-hostname --parent-hostname parent-x") == 0);
  CHECK(run("docker run --rm " + docker.image + " iotedge-diagnostics bogus 2>/dev/null") == 1);

  // Nested: parent_hostname resolves in a container through the agent's ExtraHosts.
  const std::string parent = "parent-" + docker.suffix;
  const std::string config = "hostname = \"my-device\"\nparent_hostname = \"" + parent +
                             "\"\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=hub.chk.invalid;"
                             "DeviceId=dev1;SharedAccessKey=c2VjcmV0LWtleS1vZi10aGUtY2hlY2stdGVzdHM=\"\n"
                             "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = "
                             "\"$upstream:443/azureiotedge-agent:1.5\"\n[agent.config.createOptions.HostConfig]\n"
                             "ExtraHosts = [\"" + parent + ":10.1.2.3\"]\n";
  s.apply(config);
  const std::string flags = s.base_flags(true) +
                            " edge-agent-storage-mounted-from-host edge-hub-storage-mounted-from-host"
                            " container-default-connect-upstream-amqp container-default-connect-upstream-https"
                            " container-default-connect-upstream-mqtt container-connect-upstream-amqp"
                            " container-connect-upstream-https container-connect-upstream-mqtt"
                            " host-connect-iothub-amqp host-connect-iothub-https host-connect-iothub-mqtt"
                            " --diagnostics-image-name " + docker.image;
  auto r = s.check_json(flags);
  INFO(r.output);
  CHECK(result_of(r.json, "parent_hostname") == "ok");
  CHECK(result_of(r.json, "container-resolve-parent-hostname") == "ok");
  CHECK(result_of(r.json, "aziot-edge-version") == "ok");
  // No management socket answering: the container's request fails.
  CHECK(result_of(r.json, "connect-management-uri") == "error");
  {
    MgmtStandIn mgmt(s.root + "/var/run/iotedge/mgmt.sock");
    r = s.check_json(flags);
    CHECK(result_of(r.json, "connect-management-uri") == "ok");
  }
  // A parent the container cannot resolve (".invalid" never resolves).
  std::string unresolvable = config;
  unresolvable.replace(unresolvable.find("parent_hostname = \"" + parent), 19 + parent.size(),
                       "parent_hostname = \"nowhere.chk.invalid");
  s.apply(unresolvable);
  r = s.check_json(flags);
  CHECK(result_of(r.json, "container-resolve-parent-hostname") == "error");
  CHECK(r.json["checks"]["container-resolve-parent-hostname"]["result"]["details"][0] ==
        "Failed to resolve parent hostname nowhere.chk.invalid");
}

TEST_CASE("check wants the agent's storage folder persisted on the host", "[check][docker]") {
  CheckSandbox s;
  const std::string agent = "chkagent-" + std::to_string(::getpid());
  std::string config = manual_sas_config(private_loopback());
  config.replace(config.find("name = \"edgeAgent\""), 18, "name = \"" + agent + "\"");
  s.apply(config);
  struct Cleanup {
    std::string name;
    ~Cleanup() { run("docker rm -f " + name + " >/dev/null 2>&1"); }
  } cleanup{agent};
  const std::string flags = "--dont-run edge-hub-storage-mounted-from-host " + s.base_flags();
  auto storage_check = [&](const std::string& create_args) {
    run("docker rm -f " + agent + " >/dev/null 2>&1");
    REQUIRE(run("docker create --name " + agent + " " + create_args + " edge-test-busybox:1 true >/dev/null") == 0);
    std::string f = flags;
    f.replace(f.find(" edge-agent-storage-mounted-from-host"), 37, "");
    return s.check_json(f);
  };
  auto r = storage_check("");
  INFO(r.output);
  CHECK(result_of(r.json, "edge-agent-storage-mounted-from-host") == "warning");
  CHECK(r.json["checks"]["edge-agent-storage-mounted-from-host"]["result"]["details"][0] ==
        "The " + agent + " module is not configured to persist its /tmp/edgeAgent directory on the host filesystem.\n"
        "Data might be lost if the module is deleted or updated.\nPlease see https://aka.ms/iotedge-storage-host for best practices.");
  // StorageFolder moved to a bind mount: persisted.
  r = storage_check("-e storageFolder=/iotedge -v " + s.dir.path() + ":/iotedge");
  CHECK(result_of(r.json, "edge-agent-storage-mounted-from-host") == "ok");
  CHECK(r.json["checks"]["edge-agent-storage-mounted-from-host"]["additional_info"]["storage_directory"] == "/iotedge/edgeAgent");
  // No container at all: an error, as upstream.
  run("docker rm -f " + agent + " >/dev/null 2>&1");
  std::string f = flags;
  f.replace(f.find(" edge-agent-storage-mounted-from-host"), 37, "");
  r = s.check_json(f);
  CHECK(result_of(r.json, "edge-agent-storage-mounted-from-host") == "error");
  CHECK(r.json["checks"]["edge-agent-storage-mounted-from-host"]["result"]["details"][0] ==
        "Could not check current state of " + agent + " container");
}
