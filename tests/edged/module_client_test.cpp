// Microsoft's npm module client (azure-iot-device ModuleClient.fromEnvironment over MQTT) with
// the IOTEDGE_* environment edged gives modules: it reads the trust bundle and gets its SAS
// token signed through our workload socket, then talks to the hub emulator. The caller check
// admits exactly the node process's pid as the module (the engine-backed check is covered by
// workload_docker_test.cpp).
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "common/http/server.h"
#include "edged/edge_ca.h"
#include "edged/workload.h"
#include "tests/edged/workload_fixture.h"

using namespace workload_test;
using edge::http::Json;

TEST_CASE("npm ModuleClient fromEnvironment signs through the workload socket and reaches the hub", "[integration][emulator][npm]") {
  if (!have_emulator()) return;
  std::string node_modules = EDGE_SOURCE_DIR "/tests/emulator/node/node_modules";
  REQUIRE(::access((node_modules + "/azure-iot-device-mqtt").c_str(), F_OK) == 0);
  edge::test::TempDir tmp;
  // The trust bundle carries the hub's CA too, as trust_bundle_cert does on a real device.
  StackOptions o;
  o.certd_extra = "[cert_issuance]\naziot-edged-ca = { method = \"self_signed\" }\n"
                  "[preloaded_certs]\ntrust-bundle-user = \"file://{HUB_CA}\"\n"
                  "aziot-edged-trust-bundle = [\"aziot-edged-ca\", \"trust-bundle-user\"]\n";
  Stack stack(o);
  std::string gen = stack.create_module("nodemod");

  edge::clients::KeydClient keyd(stack.keyd_socket);
  edged::CertdClient certd(stack.certd_socket);
  edged::IdentitydClient identityd(stack.identityd_socket);
  edged::EdgeCa ca({}, "dev1", keyd, certd);
  REQUIRE(ca.ensure());
  std::atomic<pid_t> node_pid{-1};
  edged::Workload workload(
      edged::WorkloadOptions{stack.emu.host, "dev1"}, keyd, certd, identityd,
      [&](const std::string& m, pid_t pid) -> edge::Status {
        if (m == "nodemod" && pid == node_pid.load()) return {};
        return edge::fail(edge::ErrorKind::Forbidden, "forbidden");
      },
      []() -> edge::Result<Json> { return Json{{"modules", Json::array()}}; });
  std::mutex seen_mutex;
  std::vector<std::pair<pid_t, std::string>> seen;  // (caller pid, "METHOD path status")
  edge::http::ServerOptions so;
  so.socket_mode = 0666;
  edge::http::Server server(
      [&](edge::http::Request& r) {
        auto resp = workload.handle(r);
        std::lock_guard lock(seen_mutex);
        seen.emplace_back(r.peer.pid, r.method + " " + r.target + " " + std::to_string(resp.status));
        return resp;
      },
      so);
  std::string sock = tmp / "nodemod.sock";
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + sock)));
  std::thread serving([&] { server.run(); });

  std::map<std::string, std::string> env{{"NODE_PATH", node_modules},
                                         {"IOTEDGE_WORKLOADURI", "unix://" + sock},
                                         {"IOTEDGE_MODULEID", "nodemod"},
                                         {"IOTEDGE_DEVICEID", "dev1"},
                                         {"IOTEDGE_IOTHUBHOSTNAME", stack.emu.host},
                                         {"IOTEDGE_MODULEGENERATIONID", gen},
                                         {"IOTEDGE_AUTHSCHEME", "sasToken"},
                                         {"IOTEDGE_APIVERSION", "2020-07-07"},
                                         {"TEST_PAYLOAD", "hello from nodemod"}};
  std::string script = EDGE_SOURCE_DIR "/tests/edged/node/module_client.js";
  std::string node_bin;
  REQUIRE(edge::test::run("command -v node | tr -d '\\n'", &node_bin) == 0);
  edge::test::Process node({node_bin, script}, env, tmp / "node.log");
  node_pid = node.pid();
  int code = node.wait();
  server.stop();
  serving.join();
  std::string log = edge::test::read_file(tmp / "node.log");
  std::string calls;
  for (const auto& [pid, what] : seen) calls += std::to_string(pid) + " " + what + "\n";
  INFO(log << "\ncalls:\n" << calls << stack.log("identityd"));
  CHECK(code == 0);
  CHECK_THAT(log, Catch::Contains("sent"));
  bool bundle = false, signed_ok = false;
  for (const auto& [pid, what] : seen) {
    if (pid != node.pid()) continue;
    if (what.starts_with("GET /trust-bundle?api-version=") && what.ends_with(" 200")) bundle = true;
    if (what.starts_with("POST /modules/nodemod/genid/" + gen + "/sign?api-version=") && what.ends_with(" 200")) signed_ok = true;
  }
  CHECK(bundle);
  CHECK(signed_ok);

  bool arrived = false;
  for (int i = 0; i < 50 && !arrived; ++i) {
    auto t = stack.emu.https("GET", "/admin/telemetry?deviceId=dev1");
    arrived = t.dump().find("hello from nodemod") != std::string::npos;
    if (!arrived) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(arrived);
}
