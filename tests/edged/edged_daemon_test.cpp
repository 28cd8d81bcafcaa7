// The aziot-edged program with its workload side: start-up against identityd (device identity),
// the quickstart Edge CA, the legacy workload socket (mode 0666) and the /identities routes;
// a bad [edge_ca] config exits 153 as upstream.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>

#include "tests/edged/workload_fixture.h"

using namespace workload_test;
using edge::http::Json;

namespace {
std::string edged_config(const Stack& stack, const std::string& home,
                         const std::string& extra = "") {
  return "hostname = \"edgehost\"\nhomedir = \"" + home + "\"\n" + extra +
         "[agent]\nname = \"edged-test-agent-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::random_device{}() % 1000000) +
         "\"\n"
         "[listen]\nmanagement_uri = \"unix://" +
         stack.dir.path() + "/mgmt.sock\"\nworkload_uri = \"unix://" + stack.dir.path() +
         "/run/workload.sock\"\n"
         "[endpoints]\naziot_keyd_url = \"unix://" +
         stack.keyd_socket + "\"\naziot_certd_url = \"unix://" + stack.certd_socket +
         "\"\naziot_identityd_url = \"unix://" + stack.identityd_socket + "\"\n";
}
}  // namespace

TEST_CASE("aziot-edged starts with the Edge CA and serves the workload socket",
          "[integration][emulator]") {
  if (!have_emulator()) return;
  Stack stack;
  edge::test::TempDir home;
  edge::test::write_file(
      stack.dir / "edged.toml",
      edged_config(stack, home.path(), "[edge_ca.auto_renew]\nthreshold = \"80%\"\n"));
  edge::test::Process edged({edge::test::bin("aziot-edged")},
                            {{"AZIOT_EDGED_CONFIG", stack.dir / "edged.toml"},
                             {"AZIOT_EDGED_CONFIG_DIR", stack.dir / "edged.d"}},
                            stack.dir / "edged.log");
  bool up =
      edge::test::wait_for_socket(stack.dir / "mgmt.sock", std::chrono::milliseconds(30000)) &&
      edge::test::wait_for_socket(stack.dir / "run/workload.sock");
  INFO(stack.log("edged"));
  REQUIRE(up);
  struct stat st {};
  REQUIRE(::stat((stack.dir / "run/workload.sock").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0666);

  edge::http::UnixClient workload(stack.dir / "run/workload.sock");
  auto bundle = edge::test::call(workload, "GET", api("/trust-bundle", "2018-06-28"));
  REQUIRE(bundle.status == 200);
  edge::test::write_file(stack.dir / "bundle.pem", bundle.json["certificate"].get<std::string>());
  std::string out;
  REQUIRE(edge::test::run("openssl x509 -in " + stack.dir / "bundle.pem" + " -noout -subject",
                          &out) == 0);
  CHECK_THAT(out, Catch::Contains("aziot-edge CA dev1"));
  // Module routes need a module's process: the test is none.
  CHECK(edge::test::call(workload, "POST", api("/modules/m/genid/1/sign"), Json{{"data", "AA=="}})
            .status == 403);

  stack.create_module("listed");
  edge::http::UnixClient mgmt(stack.dir / "mgmt.sock");
  auto ids = edge::test::call(mgmt, "GET", api("/identities"));
  REQUIRE(ids.status == 200);
  CHECK(ids.json["identities"].dump().find("\"listed\"") != std::string::npos);
  CHECK(edge::test::call(mgmt, "POST", api("/identities"), Json{{"moduleId", "x"}}).status == 403);
  CHECK_THAT(stack.log("edged"), !Catch::Contains("Auto renewal of the Edge CA is not configured"));

  edged.stop();
  CHECK(::access((stack.dir / "run/workload.sock").c_str(), F_OK) != 0);  // removed on exit
}

TEST_CASE("aziot-edged exits 153 on a bad edge_ca config", "[integration]") {
  edge::test::TempDir dir;
  edge::test::write_file(dir / "edged.toml", "[edge_ca.auto_renew]\nthreshold = \"1year\"\n");
  edge::test::Process edged(
      {edge::test::bin("aziot-edged")},
      {{"AZIOT_EDGED_CONFIG", dir / "edged.toml"}, {"AZIOT_EDGED_CONFIG_DIR", dir / "edged.d"}},
      dir / "edged.log");
  CHECK(edged.wait() == 153);
  CHECK_THAT(edge::test::read_file(dir / "edged.log"),
             Catch::Contains("edge_ca.auto_renew.threshold"));
  edge::test::write_file(dir / "edged.toml", "[listen]\nworkload_uri = \"http://x\"\n");
  edge::test::Process again(
      {edge::test::bin("aziot-edged")},
      {{"AZIOT_EDGED_CONFIG", dir / "edged.toml"}, {"AZIOT_EDGED_CONFIG_DIR", dir / "edged.d"}},
      dir / "edged2.log");
  CHECK(again.wait() == 153);
}
