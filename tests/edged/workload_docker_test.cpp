// The workload API as aziot-edged serves it (WorkloadDaemon + the management API) to processes
// in real containers: per-module sockets made before a module starts and removed with it, the
// caller's pid checked against `docker top`, and the agent-only /identities routes.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"
#include "common/http/server.h"
#include "edged/module.h"
#include "edged/workload_daemon.h"
#include "tests/edged/workload_fixture.h"

using namespace workload_test;
using namespace edged;
using edge::http::Json;

namespace {
const std::string kImage = "edge-test-busybox:1";

struct Edged {
  Stack& stack;
  edge::test::TempDir home;
  std::string tag = std::to_string(::getpid());
  std::string agent = "wl-agent-" + tag;
  std::string mod_a = "wl-a-" + tag;
  std::string mod_b = "wl-b-" + tag;
  docker::Client docker;
  std::unique_ptr<WorkloadDaemon> daemon;
  std::unique_ptr<Management> mgmt;
  std::unique_ptr<edge::http::Server> server;
  std::thread thread;
  std::string mgmt_sock = home / "mgmt.sock";

  explicit Edged(Stack& s) : stack(s) {
    cleanup();
    edge::test::run("cp " UDS_REQUEST " " + home / "uds-request");
    daemon = std::make_unique<WorkloadDaemon>(stack.settings(), home.path(), "/var/run/docker.sock");
    std::atomic<bool> stop{false};
    auto started = daemon->start(stop);
    INFO((started ? "" : started.error().message));
    REQUIRE(started);
    ManagementOptions o;
    o.agent_name = agent;
    o.hooks = daemon->hooks();
    o.identityd = &daemon->identityd();
    mgmt = std::make_unique<Management>(o);
    edge::http::ServerOptions so;
    so.socket_mode = 0666;
    server = std::make_unique<edge::http::Server>([this](edge::http::Request& r) { return mgmt->handle(r); }, so);
    REQUIRE(server->listen(*edge::uri::parse_endpoint("unix://" + mgmt_sock)));
    thread = std::thread([this] { server->run(); });
    REQUIRE(daemon->serve(*mgmt));
  }
  ~Edged() {
    server->stop();
    thread.join();
    daemon->stop();
    cleanup();
  }
  void cleanup() {
    for (const auto& n : {agent, mod_a, mod_b}) (void)docker.remove_container(n, true);
  }
  std::string sock_of(const std::string& m) const { return home / ("mnt/" + m + ".sock"); }
  // A module container (owner-labelled, its workload socket mounted as the agent mounts it)
  // that runs `script` with /edge/uds-request at hand.
  void create_module(const std::string& name, const std::string& script) {
    Json create{{"Image", kImage},
                {"Cmd", {"/bin/sh", "-c", script}},
                {"Labels", {{kOwnerLabel, kOwner}}},
                {"HostConfig", {{"Binds", {home.path() + "/uds-request:/edge/uds-request:ro",
                                           sock_of(name) + ":/var/run/iotedge/workload.sock",
                                           mgmt_sock + ":/var/run/iotedge/mgmt.sock"}}}}};
    REQUIRE(docker.create_container(name, create));
  }
  std::string logs_after_exit(const std::string& name) {
    for (int i = 0; i < 300; ++i) {
      auto info = docker.inspect_container(name);
      if (info && !(*info)["State"].value("Running", true)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string out;
    REQUIRE(docker.logs(name, {}, [&](const docker::LogFrame& f) {
      out += f.text;
      return true;
    }));
    return out;
  }
  edge::test::Reply mgmt_call(const std::string& method, const std::string& target, const std::optional<Json>& body = std::nullopt) {
    edge::http::UnixClient c(mgmt_sock);
    return edge::test::call(c, method, target, body);
  }
};

std::string call_line(const std::string& sock, const std::string& method, const std::string& target, const std::string& body = "") {
  return "/edge/uds-request " + sock + " " + method + " '" + target + "' '" + body + "'; echo; echo @@@@; ";
}
}  // namespace

TEST_CASE("a module signs through its own socket and cannot sign as another module", "[docker][emulator]") {
  if (!have_emulator()) return;
  Stack stack;
  Edged e(stack);
  std::string gen_a = stack.create_module(e.mod_a);
  stack.create_module(e.mod_b);
  std::string wl = "/var/run/iotedge/workload.sock";
  std::string data = edge::base64::encode("sign me");
  std::string script = "sleep 0.5; " +
                       call_line(wl, "POST", api("/modules/" + e.mod_a + "/genid/" + gen_a + "/sign", "2019-01-30"), "{\"data\":\"" + data + "\"}") +
                       call_line(wl, "POST", api("/modules/" + e.mod_b + "/genid/1/sign"), "{\"data\":\"" + data + "\"}") +
                       call_line(wl, "POST", api("/modules/" + e.mod_b + "/genid/1/certificate/server"), "{\"commonName\":\"x\"}") +
                       call_line(wl, "GET", api("/trust-bundle")) +
                       call_line("/var/run/iotedge/mgmt.sock", "POST", api("/identities"), "{\"moduleId\":\"sneaky\"}");
  e.create_module(e.mod_a, script);
  e.create_module(e.mod_b, "sleep 30");

  CHECK_FALSE(edge::test::run("test -e " + e.sock_of(e.mod_a)) == 0);
  auto started = e.mgmt_call("POST", api("/modules/" + e.mod_a + "/start"));
  INFO(started.body);
  REQUIRE(started.status == 204);
  struct stat st {};
  REQUIRE(::stat(e.sock_of(e.mod_a).c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0666);

  std::string out = e.logs_after_exit(e.mod_a);
  INFO(out);
  std::vector<std::string> parts;
  for (size_t p = 0, q; (q = out.find("@@@@", p)) != std::string::npos; p = q + 4) parts.push_back(out.substr(p, q - p));
  REQUIRE(parts.size() == 5);
  CHECK_THAT(parts[0], Catch::Contains("HTTP/1.1 200"));
  auto body = Json::parse(parts[0].substr(parts[0].find('{')), nullptr, false);
  std::string hub_key = stack.emu.module_key("dev1", stack.device_key, e.mod_a);
  CHECK(edge::base64::decode(body["digest"].get<std::string>()).value() == edge::crypto::hmac_sha256(hub_key, "sign me").value());
  CHECK_THAT(parts[1], Catch::Contains("HTTP/1.1 403") && Catch::Contains("\"forbidden\""));
  CHECK_THAT(parts[2], Catch::Contains("HTTP/1.1 403"));
  CHECK_THAT(parts[3], Catch::Contains("HTTP/1.1 200") && Catch::Contains("BEGIN CERTIFICATE"));
  CHECK_THAT(parts[4], Catch::Contains("HTTP/1.1 403"));  // /identities changes are the agent's

  // From the host (no module's process) the module routes are refused, the open ones answer.
  edge::http::UnixClient legacy(stack.dir / "workload.sock");
  CHECK(edge::test::call(legacy, "POST", api("/modules/" + e.mod_a + "/genid/1/sign"), Json{{"data", data}}).status == 403);
  CHECK(edge::test::call(legacy, "GET", api("/trust-bundle")).status == 200);
  auto list = edge::test::call(legacy, "GET", api("/modules"));
  REQUIRE(list.status == 200);
  CHECK(list.json["modules"].dump().find(e.mod_a) != std::string::npos);
  struct stat lst {};
  REQUIRE(::stat((stack.dir / "workload.sock").c_str(), &lst) == 0);
  CHECK((lst.st_mode & 0777) == 0666);

  // stop closes the module's listener, remove deletes its socket.
  CHECK(e.mgmt_call("POST", api("/modules/" + e.mod_a + "/stop")).status == 204);
  CHECK_FALSE(e.daemon->hooks().before_start == nullptr);
  CHECK(e.mgmt_call("POST", api("/modules/" + e.mod_b + "/start")).status == 204);
  CHECK(::access(e.sock_of(e.mod_b).c_str(), F_OK) == 0);
  // The unauthenticated start route makes no socket for a name that is not a container.
  CHECK(e.mgmt_call("POST", api("/modules/no-such-" + e.tag + "/start")).status == 404);
  CHECK(::access(e.sock_of("no-such-" + e.tag).c_str(), F_OK) != 0);
}

TEST_CASE("the agent manages module identities through the management API", "[docker][emulator]") {
  if (!have_emulator()) return;
  Stack stack;
  Edged e(stack);
  std::string mgmt = "/var/run/iotedge/mgmt.sock";
  std::string ident = "ident-" + e.tag;
  std::string script = "sleep 0.5; " + call_line(mgmt, "POST", api("/identities/"), "{\"moduleId\":\"" + ident + "\",\"managedBy\":\"me\"}") +
                       call_line(mgmt, "PUT", api("/identities/" + ident), "{}") +
                       call_line(mgmt, "POST", api("/identities"), "{\"managedBy\":\"me\"}") +
                       call_line(mgmt, "POST", api("/identities"), "") +
                       call_line(mgmt, "DELETE", api("/identities/" + ident));
  e.create_module(e.agent, script);
  REQUIRE(e.mgmt_call("POST", api("/modules/" + e.agent + "/start")).status == 204);
  std::string out = e.logs_after_exit(e.agent);
  INFO(out);
  std::vector<std::string> parts;
  for (size_t p = 0, q; (q = out.find("@@@@", p)) != std::string::npos; p = q + 4) parts.push_back(out.substr(p, q - p));
  REQUIRE(parts.size() == 5);
  CHECK_THAT(parts[0], Catch::Contains("HTTP/1.1 200") && Catch::Contains("\"managedBy\":\"me\"") && Catch::Contains("\"authType\":\"sas\""));
  CHECK_THAT(parts[1], Catch::Contains("HTTP/1.1 200") && Catch::Contains("\"managedBy\":\"iotedge\""));
  CHECK_THAT(parts[2], Catch::Contains("HTTP/1.1 422"));
  CHECK_THAT(parts[3], Catch::Contains("HTTP/1.1 400") && Catch::Contains("missing request body"));
  CHECK_THAT(parts[4], Catch::Contains("HTTP/1.1 204"));

  // Listing is open; changes from anyone else are refused.
  auto list = e.mgmt_call("GET", api("/identities"));
  REQUIRE(list.status == 200);
  CHECK(list.json["identities"].dump().find(ident) == std::string::npos);  // deleted again
  CHECK(e.mgmt_call("POST", api("/identities"), Json{{"moduleId", "x"}}).status == 403);
  CHECK(e.mgmt_call("DELETE", api("/identities/x")).status == 403);
  CHECK(e.mgmt_call("PUT", api("/identities/x"), Json::object()).status == 403);
}
