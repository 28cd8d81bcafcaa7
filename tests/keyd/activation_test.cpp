// systemd socket activation: keyd serves on the socket passed as fd 3 (LISTEN_PID/LISTEN_FDS).
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/keyd/fixture.h"

TEST_CASE("keyd serves on a systemd-activated socket", "[integration]") {
  edge::test::TempDir dir;
  std::string sock = dir / "activated.sock";
  edge::test::write_file(dir / "config.toml", "[aziot_keys]\nhomedir_path = \"" + dir.path() +
                                                  "/home\"\n[endpoints]\naziot_keyd = \"unix://" +
                                                  dir.path() + "/configured.sock\"\n");
  pid_t pid = edge::test::spawn_socket_activated(
      edge::test::bin("aziot-keyd"), sock, "aziot-keyd.socket",
      {{"AZIOT_KEYD_CONFIG", (dir / "config.toml")}, {"AZIOT_KEYD_CONFIG_DIR", (dir / "none")}});
  edge::http::UnixClient client(sock);
  edge::test::Reply r;
  for (int i = 0; i < 200 && r.status != 200; ++i) {
    r = edge::test::call(client, "POST", keyd_test::api("/keypair"),
                         edge::http::Json{{"keyId", "a"}});
    if (r.status != 200) usleep(20000);
  }
  CHECK(r.status == 200);
  auto files = edge::test::list_dir(dir.path());
  CHECK(std::find(files.begin(), files.end(), "configured.sock") == files.end());
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}
