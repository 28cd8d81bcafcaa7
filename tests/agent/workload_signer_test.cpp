// The production path of the agent's identity: SAS tokens signed by aziot-edged's workload API
// (with the `$edgeAgent` key identityd and keyd hold for the device) and the trust bundle from
// it (Edge CA + the hub's CA, as trust_bundle_cert gives it), against the real keyd, certd,
// identityd and the hub emulator; the connection then reads the twin and reports.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "agent/upstream/hub_connection.h"
#include "common/base64.h"
#include "common/crypto.h"
#include "common/http/server.h"
#include "edged/edge_ca.h"
#include "edged/workload.h"
#include "tests/edged/workload_fixture.h"

using namespace agent::upstream;
using namespace std::chrono_literals;

TEST_CASE("the agent signs through the workload API and trusts its bundle",
          "[integration][emulator]") {
  if (!workload_test::have_emulator()) return;
  workload_test::StackOptions o;
  o.certd_extra =
      "[cert_issuance]\naziot-edged-ca = { method = \"self_signed\" }\n"
      "[preloaded_certs]\ntrust-bundle-user = \"file://{HUB_CA}\"\n"
      "aziot-edged-trust-bundle = [\"aziot-edged-ca\", \"trust-bundle-user\"]\n";
  workload_test::Stack stack(o);
  edge::clients::KeydClient keyd(stack.keyd_socket);
  edged::CertdClient certd(stack.certd_socket);
  edged::IdentitydClient identityd(stack.identityd_socket);
  edged::EdgeCa ca({}, "dev1", keyd, certd);
  REQUIRE(ca.ensure());
  std::set<std::string> callers;
  edged::Workload workload(
      edged::WorkloadOptions{stack.emu.host, "dev1"}, keyd, certd, identityd,
      [&](const std::string& module, pid_t pid) -> edge::Status {
        callers.insert(module);
        if (pid == ::getpid() && module == "$edgeAgent") return {};
        return edge::fail(edge::ErrorKind::Forbidden, "forbidden");
      },
      []() -> edge::Result<edge::http::Json> {
        return edge::http::Json{{"modules", edge::http::Json::array()}};
      });
  std::string sock = stack.dir / "workload.sock";
  edge::http::Server server([&](edge::http::Request& r) { return workload.handle(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + sock)));
  std::thread t([&] { server.run(); });
  struct Stop {
    std::function<void()> f;
    ~Stop() { f(); }
  } stop{[&] {
    server.stop();
    t.join();
  }};

  // edged makes sure the agent's identity exists through identityd (its keys derived on the
  // device) before it starts the agent container.
  edge::http::UnixClient id_client(stack.identityd_socket);
  auto updated = edge::test::call(
      id_client, "PUT", "/identities/modules/$edgeAgent?api-version=2020-09-01&type=aziot",
      edge::http::Json{{"type", "aziot"}, {"moduleId", "$edgeAgent"}});
  INFO(updated.body << "\n" << stack.log("identityd"));
  REQUIRE(updated.status == 200);
  std::string gen = updated.json["spec"]["genId"];
  auto bundle = fetch_trust_bundle(sock);
  INFO((bundle ? "" : bundle.error().message));
  REQUIRE(bundle);
  CHECK(bundle->find("BEGIN CERTIFICATE") != std::string::npos);
  WorkloadSigner signer(sock, "$edgeAgent", gen);
  auto token = make_sas_token(signer, stack.emu.host + "/devices/dev1/modules/$edgeAgent",
                              std::time(nullptr) + 3600);
  INFO((token ? "" : token.error().message) << "\n" << stack.log("identityd"));
  REQUIRE(token);
  CHECK(callers.contains("$edgeAgent"));
  // The signature is the one the hub expects for the module.
  std::string hub_key = stack.emu.module_key("dev1", stack.device_key, "$edgeAgent");
  auto digest = signer.sign("probe");
  REQUIRE(digest);
  CHECK(edge::base64::decode(*digest).value() ==
        edge::crypto::hmac_sha256(hub_key, "probe").value());
  // Another module's key is not this process's to use.
  WorkloadSigner foreign(sock, "mod1", "x");
  auto refused = foreign.sign("data");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("403"));

  Settings s;
  s.iothub_hostname = stack.emu.host;
  s.device_id = "dev1";
  s.generation_id = gen;
  HubConnection conn(s, std::make_shared<WorkloadSigner>(sock, "$edgeAgent", gen), *bundle,
                     nullptr);
  conn.start();
  bool got_twin = false;
  for (int i = 0; i < 200 && !got_twin; ++i) {
    got_twin = conn.desired().has_value();
    std::this_thread::sleep_for(100ms);
  }
  INFO(conn.last_error());
  CHECK(got_twin);
  conn.report(edge::http::Json{{"lastDesiredStatus", {{"code", 200}, {"description", ""}}}});
  CHECK(conn.flush_report(10s));
  conn.stop();
}
