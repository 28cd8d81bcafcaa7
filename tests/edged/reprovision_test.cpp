// POST /device/reprovision through the real stack: only the agent's container may call it
// (403 otherwise), api-version 2019-10-22 or later; edged answers 204, stops the modules,
// clears its cache, has identityd reprovision and exits 154 so systemd restarts it.
#include "tests/edged/runtime_stack.h"

using namespace runtime_stack;

namespace {
int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("edged reprovisions at the agent's request and exits 154", "[docker][e2e]") {
  Stack s;
  std::filesystem::create_directories(s.dir / "data");
  REQUIRE(edge::test::run("cp " UDS_REQUEST " " + s.dir / "data/uds-request") == 0);
  s.start_edged();
  bool up = wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60));
  INFO(s.log());
  REQUIRE(up);
  REQUIRE(::access((s.homedir + "/cache/provisioning_state").c_str(), F_OK) == 0);

  edge::http::UnixClient mgmt(s.dir / "mgmt.sock");
  // Before 2019-10-22 the route does not exist; a missing or unknown api-version is a 400.
  auto old = edge::test::call(mgmt, "POST", "/device/reprovision?api-version=2019-01-30");
  CHECK(old.status == 404);
  CHECK(old.json["message"] == "not found");
  auto missing = edge::test::call(mgmt, "POST", "/device/reprovision");
  CHECK(missing.status == 400);
  CHECK(missing.json["message"] == "api-version not specified");
  auto unknown = edge::test::call(mgmt, "POST", "/device/reprovision?api-version=2019-10-23");
  CHECK(unknown.status == 400);
  CHECK(unknown.json["message"] == "invalid api-version \"2019-10-23\"");
  // The test process is not the agent: forbidden, and edged keeps running.
  auto denied = edge::test::call(mgmt, "POST", "/device/reprovision?api-version=2019-10-22");
  CHECK(denied.status == 403);
  CHECK(denied.json["message"] == "forbidden");
  CHECK(s.edged->running());
  CHECK(edge::test::call(mgmt, "GET", "/modules?api-version=2022-08-03").status == 200);
  int provisioned_before = count(edge::test::read_file(s.dir / "identityd.log"), "Provisioned manually");

  // The agent asks: a 204 first, then the shutdown.
  std::string out;
  edge::test::run("docker exec " + s.agent + " /data/uds-request " + s.dir / "mgmt.sock" +
                      " POST '/device/reprovision?api-version=2022-08-03'",
                  &out);
  INFO(out);
  CHECK(out.starts_with("HTTP/1.1 204"));
  int code = s.edged->wait();
  std::string log = s.log();
  INFO(log);
  CHECK(code == 154);
  CHECK_THAT(log, Catch::Contains("Edge daemon will reprovision and restart") &&
                      Catch::Contains("All modules stopped") &&
                      Catch::Contains("Successfully reprovisioned"));
  CHECK_FALSE(s.agent_running());
  CHECK(::access((s.homedir + "/cache").c_str(), F_OK) != 0);  // the cache went with it
  // identityd provisioned the device again (manual provisioning logs each time).
  CHECK(count(edge::test::read_file(s.dir / "identityd.log"), "Provisioned manually") ==
        provisioned_before + 1);

  // systemd restarts it: it serves again with the (same) device.
  s.start_edged();
  CHECK(wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60)));
}
