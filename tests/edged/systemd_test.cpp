// aziot-edged's unit and sockets are upstream's (comments aside): same user, sockets, modes,
// restart rules (RestartPreventExitStatus=153) and dependencies.
#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "tests/support/harness.h"

namespace {
std::vector<std::string> directives(const std::string& path) {
  std::istringstream in(edge::test::read_file(path));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}
}  // namespace

TEST_CASE("edged's systemd units match upstream's", "[unit]") {
  for (const char* unit :
       {"aziot-edged.service", "aziot-edged.mgmt.socket", "aziot-edged.workload.socket"}) {
    INFO(unit);
    auto ours = directives(std::string(EDGE_SOURCE_DIR "/systemd/") + unit);
    auto upstream = directives(std::string(EDGE_SOURCE_DIR "/../shared/reference/systemd/") + unit);
    REQUIRE_FALSE(upstream.empty());
    CHECK(ours == upstream);
  }
  auto service = directives(EDGE_SOURCE_DIR "/systemd/aziot-edged.service");
  CHECK(std::find(service.begin(), service.end(), "RestartPreventExitStatus=153") != service.end());
}
