// Two-socket systemd activation as upstream's units do it: aziot-edged.mgmt.socket and
// aziot-edged.workload.socket passed as fds (LISTEN_FDS=2, LISTEN_FDNAMES) to an edged whose
// [listen] URIs are fd://<unit name>. Both APIs answer on the inherited sockets, matched by
// name (not by position), edged makes no socket files of its own, a restarted edged gets the
// same sockets back and serves again (systemd keeps them), and a missing name is a clear error.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/edged/runtime_stack.h"

using namespace runtime_stack;

namespace {
ino_t inode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

std::vector<std::string> sockets_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : edge::test::list_dir(dir))
    if (name.ends_with(".sock")) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

int stop(pid_t pid) {
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
}  // namespace

TEST_CASE("edged serves both APIs on the sockets systemd passes by name", "[docker][e2e]") {
  Stack s;
  s.write_edged_config("unix:///var/run/docker.sock", "", "", "fd://aziot-edged.workload.socket",
                       "fd://aziot-edged.mgmt.socket");
  // As the .socket units: the files exist before edged starts. Workload first, so a match by
  // position would serve each API on the other's socket.
  int workload_fd = edge::test::listen_unix(s.dir / "workload.sock");
  int mgmt_fd = edge::test::listen_unix(s.dir / "mgmt.sock");
  const ino_t workload_inode = inode(s.dir / "workload.sock");
  const ino_t mgmt_inode = inode(s.dir / "mgmt.sock");
  const auto before = sockets_in(s.dir.path());
  std::vector<edge::test::ActivationSocket> passed{{workload_fd, "aziot-edged.workload.socket"},
                                                   {mgmt_fd, "aziot-edged.mgmt.socket"}};

  for (int run = 0; run < 2; ++run) {  // the second run is systemd's restart
    INFO("run " << run);
    std::string log_path = s.dir / ("edged-activated-" + std::to_string(run) + ".log");
    pid_t pid = edge::test::spawn_socket_activated(edge::test::bin("aziot-edged"), passed,
                                                   s.edged_env(), log_path);
    bool up = wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60));
    INFO(edge::test::read_file(log_path));
    REQUIRE(up);

    edge::http::UnixClient mgmt(s.dir / "mgmt.sock");
    auto modules = edge::test::call(mgmt, "GET", "/modules?api-version=2022-08-03");
    CHECK(modules.status == 200);
    CHECK(modules.json["modules"].dump().find(s.agent) != std::string::npos);
    auto info = edge::test::call(mgmt, "GET", "/systeminfo?api-version=2022-08-03");
    CHECK(info.status == 200);
    CHECK(info.json.contains("osType"));

    edge::http::UnixClient workload(s.dir / "workload.sock");
    auto bundle = edge::test::call(workload, "GET", "/trust-bundle?api-version=2019-01-30");
    CHECK(bundle.status == 200);
    CHECK_THAT(bundle.json.value("certificate", ""), Catch::Contains("BEGIN CERTIFICATE"));
    // The workload socket does not serve management routes (and vice versa): no mix-up.
    CHECK(edge::test::call(workload, "GET", "/systeminfo?api-version=2022-08-03").status == 404);
    CHECK(edge::test::call(mgmt, "GET", "/trust-bundle?api-version=2019-01-30").status == 404);

    // Still systemd's sockets; edged made no socket files of its own here.
    CHECK(inode(s.dir / "workload.sock") == workload_inode);
    CHECK(inode(s.dir / "mgmt.sock") == mgmt_inode);
    CHECK(sockets_in(s.dir.path()) == before);

    CHECK(stop(pid) == 0);
    // The socket files stay (they are the units'), ready for the next start.
    CHECK(inode(s.dir / "mgmt.sock") == mgmt_inode);
    CHECK(inode(s.dir / "workload.sock") == workload_inode);
  }

  // Names that do not match the [listen] fd:// URIs: a clear start-up error.
  std::string log_path = s.dir / "edged-misnamed.log";
  std::vector<edge::test::ActivationSocket> misnamed{{workload_fd, "iotedge.socket"},
                                                     {mgmt_fd, "iotedge.mgmt.socket"}};
  pid_t pid = edge::test::spawn_socket_activated(edge::test::bin("aziot-edged"), misnamed,
                                                 s.edged_env(), log_path);
  int status = 0;
  REQUIRE(wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(60)));
  std::string log = edge::test::read_file(log_path);
  INFO(log);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) != 0);
  CHECK_THAT(log, Catch::Contains("no socket named aziot-edged."));
  ::close(workload_fd);
  ::close(mgmt_fd);
}
