// The shipped units must match upstream's names, users, socket paths and modes: packages,
// docs and `system` commands all depend on them.
#include <catch2/catch.hpp>

#include "tests/cli/cli_support.h"

using namespace edge::test;

namespace {

std::string unit(const std::string& name) {
  std::string path = std::string(EDGE_SOURCE_DIR) + "/systemd/" + name;
  INFO(path);
  REQUIRE(file_exists(path));
  return read_file(path);
}

}  // namespace

TEST_CASE("identity service units and sockets match upstream", "[cli]") {
  for (auto [name, user] :
       {std::pair{"certd", "aziotcs"}, {"identityd", "aziotid"}, {"tpmd", "aziottpm"}}) {
    std::string n = name, u = user;
    std::string service = unit("aziot-" + n + ".service");
    REQUIRE_THAT(service, Catch::Contains("ExecStart=/usr/libexec/aziot-identity-service/aziot-" +
                                          n + "\n"));
    REQUIRE_THAT(service, Catch::Contains("User=" + u + "\n"));
    REQUIRE_THAT(service, Catch::Contains("Requires=aziot-" + n + ".socket\n"));
    std::string socket = unit("aziot-" + n + ".socket");
    REQUIRE_THAT(socket, Catch::Contains("ListenStream=/run/aziot/" + n + ".sock\n"));
    REQUIRE_THAT(socket, Catch::Contains("SocketMode=0660\n"));
    REQUIRE_THAT(socket, Catch::Contains("SocketUser=" + u + "\nSocketGroup=" + u + "\n"));
    REQUIRE_THAT(socket, Catch::Contains("PartOf=aziot-" + n + ".service\n"));
  }
}

TEST_CASE("aziot-edged unit and its management and workload sockets match upstream", "[cli]") {
  std::string service = unit("aziot-edged.service");
  REQUIRE_THAT(service, Catch::Contains("ExecStart=/usr/libexec/aziot/aziot-edged\n"));
  REQUIRE_THAT(service, Catch::Contains("User=iotedge\nGroup=iotedge\n"));
  REQUIRE_THAT(service, Catch::Contains("RestartPreventExitStatus=153\n"));
  std::string mgmt = unit("aziot-edged.mgmt.socket");
  REQUIRE_THAT(mgmt, Catch::Contains("ListenStream=/var/run/iotedge/mgmt.sock\nSocketMode=0660\n"));
  REQUIRE_THAT(mgmt, Catch::Contains("SocketUser=edgeagentuser\nSocketGroup=iotedge\n"));
  std::string workload = unit("aziot-edged.workload.socket");
  REQUIRE_THAT(workload,
               Catch::Contains("ListenStream=/var/run/iotedge/workload.sock\nSocketMode=0666\n"));
}

TEST_CASE("create-users.sh creates every service user as the packages do", "[cli]") {
  std::string out;
  REQUIRE(
      run("DRY_RUN=1 sh " + shell_quote(std::string(EDGE_SOURCE_DIR) + "/systemd/create-users.sh"),
          &out) == 0);
  for (const char* user : {"aziotks", "aziotcs", "aziotid", "aziottpm", "iotedge"}) {
    if (run(std::string("getent passwd ") + user + " >/dev/null") == 0) continue;  // already there
    REQUIRE_THAT(out, Catch::Contains(std::string("-s /sbin/nologin -d /var/lib/aziot/")));
    REQUIRE_THAT(out, Catch::Contains(std::string(" ") + user + "\n"));
  }
  if (run("getent passwd edgeagentuser >/dev/null") != 0)
    REQUIRE_THAT(out, Catch::Contains("-u 13622 edgeagentuser"));
  if (run("getent passwd edgehubuser >/dev/null") != 0)
    REQUIRE_THAT(out, Catch::Contains("-u 13623 edgehubuser"));
  REQUIRE_THAT(out, Catch::Contains("chmod 0700 /etc/aziot/edged/config.d"));
}
