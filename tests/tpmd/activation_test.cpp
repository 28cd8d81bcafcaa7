// systemd socket activation: tpmd serves on the socket passed as fd 3 (LISTEN_PID/LISTEN_FDS),
// as aziot-tpmd.socket starts it.
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/tpmd/fixture.h"

TEST_CASE("tpmd serves on a systemd-activated socket") {
  edge::test::TempDir dir;
  tpm_test::Swtpm swtpm(dir / "state");
  std::string sock = dir / "activated.sock";
  edge::test::write_file(dir / "config.toml", "tcti = \"" + swtpm.tcti() +
                                                  "\"\n[endpoints]\naziot_tpmd = \"unix://" +
                                                  dir.path() + "/configured.sock\"\n");
  pid_t pid = edge::test::spawn_socket_activated(
      edge::test::bin("aziot-tpmd"), sock, "aziot-tpmd.socket",
      {{"AZIOT_TPMD_CONFIG", (dir / "config.toml")}, {"AZIOT_TPMD_CONFIG_DIR", (dir / "none")}});
  edge::http::UnixClient client(sock);
  edge::test::Reply r;
  for (int i = 0; i < 200 && r.status != 200; ++i) {
    r = edge::test::call(client, "GET", tpmd_test::api("/get_tpm_keys"));
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
