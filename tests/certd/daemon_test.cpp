// The daemon around the API: systemd socket activation, its unit files, bad configs.
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/certd/fixture.h"

using namespace certd_test;

TEST_CASE("certd serves on a systemd-activated socket", "[integration]") {
  edge::test::TempDir dir;
  std::string sock = dir / "activated.sock";
  edge::test::write_file(dir / "config.toml", "homedir_path = \"" + dir.path() +
                                                  "/home\"\n[endpoints]\naziot_certd = \"unix://" +
                                                  dir.path() + "/configured.sock\"\n");
  edge::test::write_file(dir / "cert.pem", "");
  pid_t pid = edge::test::spawn_socket_activated(
      edge::test::bin("aziot-certd"), sock, "aziot-certd.socket",
      {{"AZIOT_CERTD_CONFIG", (dir / "config.toml")}, {"AZIOT_CERTD_CONFIG_DIR", (dir / "none")}});
  edge::http::UnixClient client(sock);
  edge::test::Reply r;
  for (int i = 0; i < 200 && r.status != 400; ++i) {
    r = edge::test::call(client, "GET", api("/certificates/missing"));
    if (r.status != 400) usleep(20000);
  }
  CHECK(r.status == 400);
  CHECK(r.json["message"] == "parameter \"id\" has an invalid value\ncaused by: not found");
  auto files = edge::test::list_dir(dir.path());
  CHECK(std::find(files.begin(), files.end(), "configured.sock") == files.end());
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
}

TEST_CASE("the systemd units name certd's socket and user as upstream", "[unit]") {
  std::string service =
      edge::test::read_file(std::string(EDGE_SOURCE_DIR) + "/systemd/aziot-certd.service");
  std::string socket =
      edge::test::read_file(std::string(EDGE_SOURCE_DIR) + "/systemd/aziot-certd.socket");
  CHECK_THAT(service, Catch::Contains("Requires=aziot-certd.socket"));
  CHECK_THAT(service, Catch::Contains("User=aziotcs"));
  CHECK_THAT(service, Catch::Contains("ExecStart=/usr/libexec/aziot-identity-service/aziot-certd"));
  CHECK_THAT(socket, Catch::Contains("ListenStream=/run/aziot/certd.sock"));
  CHECK_THAT(socket, Catch::Contains("SocketMode=0660"));
  CHECK_THAT(socket, Catch::Contains("SocketUser=aziotcs"));
  CHECK_THAT(socket, Catch::Contains("SocketGroup=aziotcs"));
}

TEST_CASE("a bad config stops certd with exit code 153 and says where", "[integration]") {
  edge::test::TempDir dir;
  edge::test::write_file(
      dir / "config.toml",
      "homedir_path = \"" + dir.path() + "/home\"\n[cert_issuance.x]\nmethod = \"magic\"\n");
  REQUIRE(edge::test::run("mkdir -p " + (dir / "config.d")) == 0);
  edge::test::write_file(dir / "config.d/50-ok.toml",
                         "[[principal]]\nuid = 1000\ncerts = [\"x\"]\n");
  edge::test::Process p(
      {edge::test::bin("aziot-certd")},
      {{"AZIOT_CERTD_CONFIG", dir / "config.toml"}, {"AZIOT_CERTD_CONFIG_DIR", dir / "config.d"}},
      dir / "certd.log");
  CHECK(p.wait() == 153);
  CHECK_THAT(p.log(), Catch::Contains("config.toml:3:10"));
  CHECK_THAT(p.log(), Catch::Contains("cert_issuance.x.method"));
  CHECK(!edge::test::run("test -e " + (dir / "home")) == 0);
}

TEST_CASE("principals added in config.d apply without a restart and a bad edit changes nothing",
          "[integration][slow]") {
  Certd certd(Backend::Files);
  std::string pem_file = certd.dir / "cert.pem";
  REQUIRE(edge::test::run(
              "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
              (certd.dir / "cert.key") + " -out " + pem_file +
              " -subj /CN=reload -days 1 2>/dev/null") == 0);
  edge::http::Json body{{"pem", edge::test::read_file(pem_file)}};
  CHECK(certd.call_as(65534, "PUT", api("/certificates/reloaded-1"), body).status == 401);

  REQUIRE(edge::test::run("mkdir -p " + (certd.dir / "config.d")) == 0);
  edge::test::write_file(certd.dir / "config.d/50-grant.toml",
                         "[[principal]]\nuid = 65534\ncerts = [\"reloaded-*\"]\n", 0600);
  int status = 0;
  for (int i = 0; i < 300 && status != 201; ++i) {  // upstream waits 10 s for edits to settle
    usleep(100000);
    status = certd.call_as(65534, "PUT", api("/certificates/reloaded-1"), body).status;
  }
  CHECK(status == 201);
  CHECK_THAT(certd.process->log(), Catch::Contains("Config update finished."));

  edge::test::write_file(certd.dir / "config.d/60-bad.toml", "[cert_issuance.x]\nmethod = 1\n",
                         0600);
  std::string log;
  for (int i = 0; i < 300 && log.find("Failed to reload configuration") == std::string::npos; ++i) {
    usleep(100000);
    log = certd.process->log();
  }
  CHECK_THAT(log, Catch::Contains("Failed to reload configuration (keeping the current one)"));
  CHECK(certd.process->running());
  CHECK(certd.call_as(65534, "PUT", api("/certificates/reloaded-2"), body).status == 201);
}
