// systemd: identityd serves on the socket passed as fd 3, and the shipped units say what
// upstream's say.
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>

#include "tests/identityd/fixture.h"

TEST_CASE("identityd serves on a systemd-activated socket", "[integration]") {
  edge::test::TempDir dir;
  std::string sock = dir / "activated.sock";
  edge::test::write_file(dir / "config.toml", "hostname = \"h\"\nhomedir = \"" + dir.path() +
                                                  "/home\"\n[provisioning]\nsource = \"none\"\n"
                                                  "[endpoints]\naziot_identityd = \"unix://" +
                                                  dir.path() +
                                                  "/configured.sock\"\naziot_certd = \"unix://" +
                                                  dir.path() + "/no-certd.sock\"\n");
  pid_t pid = edge::test::spawn_socket_activated(edge::test::bin("aziot-identityd"), sock,
                                                 "aziot-identityd.socket",
                                                 {{"AZIOT_IDENTITYD_CONFIG", (dir / "config.toml")},
                                                  {"AZIOT_IDENTITYD_CONFIG_DIR", (dir / "none")}});
  edge::http::UnixClient client(sock);
  edge::test::Reply r;
  for (int i = 0; i < 200 && r.status != 200; ++i) {
    r = edge::test::call(client, "GET", identityd_test::api("/identities/provisioning"));
    if (r.status != 200) usleep(20000);
  }
  CHECK(r.status == 200);
  CHECK(r.json == edge::http::Json{{"source", "none"}});
  auto files = edge::test::list_dir(dir.path());
  CHECK(std::find(files.begin(), files.end(), "configured.sock") == files.end());
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("identityd systemd units match upstream", "[unit]") {
  std::string service =
      edge::test::read_file(std::string(EDGE_SOURCE_DIR) + "/systemd/aziot-identityd.service");
  std::string socket =
      edge::test::read_file(std::string(EDGE_SOURCE_DIR) + "/systemd/aziot-identityd.socket");
  for (const char* line :
       {"Requires=aziot-identityd.socket", "After=aziot-identityd.socket", "User=aziotid",
        "Restart=on-failure", "RestartSec=5s", "KillMode=process", "WantedBy=multi-user.target"})
    CHECK(service.find(line) != std::string::npos);
  for (const char* line : {"ListenStream=/run/aziot/identityd.sock", "SocketMode=0660",
                           "DirectoryMode=0755", "SocketUser=aziotid", "SocketGroup=aziotid",
                           "PartOf=aziot-identityd.service", "WantedBy=sockets.target"})
    CHECK(socket.find(line) != std::string::npos);
}
