// The agent binary with ConfigSource=twin (the default) and an incomplete environment: a clear
// error naming the variable, and upstream's "bad configuration" exit code 153.
#include <catch2/catch.hpp>

#include "tests/support/harness.h"

TEST_CASE("the twin config source needs edged's environment", "[integration]") {
  edge::test::TempDir dir;
  struct Case {
    std::map<std::string, std::string> env;
    std::string expected;
  };
  std::map<std::string, std::string> base = {
      {"IOTEDGE_MANAGEMENTURI", "unix://" + dir / "mgmt.sock"},
      {"StorageFolder", dir.path()},
      {"IOTEDGE_IOTHUBHOSTNAME", "hub.example"},
      {"IOTEDGE_DEVICEID", "d1"},
      {"IOTEDGE_MODULEID", "$edgeAgent"},
      {"IOTEDGE_MODULEGENERATIONID", "g"},
      {"IOTEDGE_WORKLOADURI", "unix://" + dir / "workload.sock"}};
  auto without = [&](const std::string& k) {
    auto e = base;
    e.erase(k);
    return e;
  };
  auto with = [&](const std::string& k, const std::string& v) {
    auto e = base;
    e[k] = v;
    return e;
  };
  for (const auto& c :
       {Case{without("IOTEDGE_DEVICEID"), "IOTEDGE_DEVICEID is not set"},
        Case{with("UpstreamProtocol", "Http"), "UpstreamProtocol \"Http\""},
        Case{with("IOTEDGE_AUTHSCHEME", "x509"), "IOTEDGE_AUTHSCHEME"},
        Case{with("ConfigSource", "cloud"), "ConfigSource=cloud is not supported"}}) {
    edge::test::Process agent({edge::test::bin("edge-agent")}, c.env, dir / "agent.log");
    CHECK(agent.wait() == 153);
    CHECK_THAT(agent.log(), Catch::Contains(c.expected));
  }
}
