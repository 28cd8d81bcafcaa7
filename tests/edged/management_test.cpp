// The management API against the real engine. Agent-only routes are called from a process in
// the agent's container (a static client run in a busybox container), as the real agent does.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/http/server.h"
#include "edged/management.h"
#include "tests/support/harness.h"

using namespace edged;
using edge::http::Json;

namespace {
const std::string kImage = "edge-test-busybox:1";

struct Fixture {
  edge::test::TempDir dir;
  std::string sock = dir / "mgmt.sock";
  std::string agent = "test-agent-" + std::to_string(getpid());
  std::string module = "test-module-" + std::to_string(getpid());
  docker::Client docker;
  std::unique_ptr<Management> mgmt;
  std::unique_ptr<edge::http::Server> server;
  std::thread thread;
  std::unique_ptr<edge::http::UnixClient> client;

  Fixture() {
    cleanup();
    mgmt = std::make_unique<Management>(ManagementOptions{"/var/run/docker.sock", agent, "1.5.0"});
    server = std::make_unique<edge::http::Server>([this](edge::http::Request& r) { return mgmt->handle(r); },
                                                  edge::http::ServerOptions{});
    REQUIRE(server->listen(*edge::uri::parse_endpoint("unix://" + sock)));
    thread = std::thread([this] { server->run(); });
    client = std::make_unique<edge::http::UnixClient>(sock);
    edge::test::run("cp " UDS_REQUEST " " + dir / "uds-request");
  }
  ~Fixture() {
    server->stop();
    thread.join();
    cleanup();
  }
  void cleanup() {
    (void)docker.remove_container(agent, true);
    (void)docker.remove_container(module, true);
  }
  // Runs one request from inside a container named like the agent; returns the raw response.
  std::string as_agent(const std::string& method, const std::string& target, const std::string& body = "") {
    (void)docker.remove_container(agent, true);
    Json create{{"Image", kImage},
                {"Cmd", {"/edge/uds-request", "/edge/mgmt.sock", method, target, body}},
                {"HostConfig", {{"Binds", {dir.path() + ":/edge"}}}}};
    REQUIRE(docker.create_container(agent, create));
    REQUIRE(docker.start(agent));
    std::string out;
    for (int i = 0; i < 200; ++i) {
      auto info = docker.inspect_container(agent);
      if (info && !(*info)["State"].value("Running", true)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(docker.logs(agent, {}, [&](const docker::LogFrame& f) {
      out += f.text;
      return true;
    }));
    return out;
  }
  Json module_spec(const std::string& cmd, const std::string& policy = "never") {
    return Json{{"name", module}, {"type", "docker"}, {"imagePullPolicy", policy},
                {"config", {{"settings", {{"image", kImage}, {"createOptions", {{"Cmd", {"/bin/sh", "-c", cmd}}}}}},
                            {"env", {{{"key", "MODULE_ID"}, {"value", module}}}}}}};
  }
  std::string api(const std::string& path) { return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=2022-08-03"; }
};
}  // namespace

TEST_CASE("agent-only routes refuse other callers with 403", "[docker]") {
  Fixture f;
  auto r = edge::test::call(*f.client, "POST", f.api("/modules"), f.module_spec("sleep 5"));
  CHECK(r.status == 403);
  CHECK(r.json["message"] == "forbidden");
  CHECK(edge::test::call(*f.client, "DELETE", f.api("/modules/" + f.module)).status == 403);
  CHECK(edge::test::call(*f.client, "PUT", f.api("/modules/" + f.module), f.module_spec("true")).status == 403);
  CHECK_FALSE(f.docker.inspect_container(f.module));
  // Open routes work for anyone who can reach the socket.
  CHECK(edge::test::call(*f.client, "GET", f.api("/modules")).status == 200);
  auto info = edge::test::call(*f.client, "GET", f.api("/systeminfo"));
  CHECK(info.status == 200);
  CHECK(info.json["osType"] == "Linux");
  CHECK(info.json["version"] == "1.5.0");
}

TEST_CASE("the agent creates starts lists logs stops and removes a module", "[docker]") {
  Fixture f;
  std::string created = f.as_agent("POST", f.api("/modules"), f.module_spec("trap 'exit 0' TERM; echo started $MODULE_ID; sleep 30 & wait").dump());
  INFO(created);
  REQUIRE_THAT(created, Catch::StartsWith("HTTP/1.1 201"));
  auto details = edge::test::call(*f.client, "GET", f.api("/modules/" + f.module));
  REQUIRE(details.status == 200);
  CHECK(details.json["status"]["runtimeStatus"]["status"] == "stopped");
  CHECK(details.json["config"]["settings"]["image"] == kImage);
  auto inspect = f.docker.inspect_container(f.module);
  REQUIRE(inspect);
  CHECK((*inspect)["Config"]["Labels"]["net.azure-devices.edge.owner"] == "Microsoft.Azure.Devices.Edge.Agent");
  auto env = (*inspect)["Config"]["Env"];
  CHECK(std::find(env.begin(), env.end(), "MODULE_ID=" + f.module) != env.end());

  CHECK(edge::test::call(*f.client, "POST", f.api("/modules/" + f.module + "/start")).status == 204);
  auto list = edge::test::call(*f.client, "GET", f.api("/modules"));
  bool found = false;
  for (const auto& m : list.json["modules"])
    if (m["name"] == f.module) {
      found = true;
      CHECK(m["status"]["runtimeStatus"]["status"] == "running");
      CHECK(m["status"].contains("startTime"));
    }
  CHECK(found);

  // Logs come back as the engine's multiplexed stream.
  std::string logs;
  for (int i = 0; i < 50 && logs.find("started") == std::string::npos; ++i) {
    auto r = f.client->request("GET", f.api("/modules/" + f.module + "/logs?tail=10&since=1d"));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    logs = r->body;
    if (logs.find("started") == std::string::npos) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(logs.size() > 8);
  CHECK(logs[0] == '\x01');
  CHECK_THAT(logs, Catch::Contains("started " + f.module));
  CHECK(edge::test::call(*f.client, "GET", f.api("/modules/" + f.module + "/logs?since=someday")).status == 400);
  CHECK(edge::test::call(*f.client, "GET", f.api("/modules/" + f.module + "/logs?tail=ten")).status == 400);
  CHECK(edge::test::call(*f.client, "GET", f.api("/modules/" + f.module + "/logs?follow=maybe")).status == 400);

  CHECK(edge::test::call(*f.client, "POST", f.api("/modules/" + f.module + "/Stop")).status == 204);
  auto stopped = edge::test::call(*f.client, "GET", f.api("/modules/" + f.module));
  CHECK(stopped.json["status"]["runtimeStatus"]["status"] == "stopped");  // exited 0 on SIGTERM
  CHECK(stopped.json["status"]["exitStatus"]["statusCode"] == "0");

  std::string removed = f.as_agent("DELETE", f.api("/modules/" + f.module));
  CHECK_THAT(removed, Catch::StartsWith("HTTP/1.1 204"));
  CHECK(edge::test::call(*f.client, "GET", f.api("/modules/" + f.module)).status == 404);
}

TEST_CASE("bad module requests from the agent are refused and change nothing", "[docker]") {
  Fixture f;
  Json dup = f.module_spec("true");
  dup["config"]["env"] = Json::array({{{"key", "A"}, {"value", "1"}}, {{"key", "A"}, {"value", "2"}}});
  CHECK_THAT(f.as_agent("POST", f.api("/modules"), dup.dump()), Catch::StartsWith("HTTP/1.1 400") && Catch::Contains("duplicate environment variable"));
  Json spaces = f.module_spec("true");
  spaces["config"]["settings"]["image"] = "bad image:1";
  CHECK_THAT(f.as_agent("POST", f.api("/modules"), spaces.dump()), Catch::StartsWith("HTTP/1.1 400"));
  Json missing = f.module_spec("true");
  missing["config"]["settings"]["image"] = "edge-test-absent:1";
  CHECK_THAT(f.as_agent("POST", f.api("/modules"), missing.dump()), Catch::StartsWith("HTTP/1.1 404") && Catch::Contains("edge-test-absent"));
  CHECK_THAT(f.as_agent("POST", f.api("/modules"), "{not json"), Catch::StartsWith("HTTP/1.1 422"));
  Json other = f.module_spec("true");
  CHECK_THAT(f.as_agent("POST", f.api("/modules/othername/prepareupdate"), other.dump()),
             Catch::StartsWith("HTTP/1.1 400") && Catch::Contains("module name in spec does not match URI"));
  CHECK_FALSE(f.docker.inspect_container(f.module));
  CHECK(edge::test::call(*f.client, "GET", f.api("/modules/absent-" + f.module)).status == 404);
  CHECK(edge::test::call(*f.client, "GET", "/modules?api-version=2018-06-28").status == 200);
  // prepareupdate exists from 2019-01-30 on: older versions do not see the route.
  CHECK(edge::test::call(*f.client, "POST", "/modules/x/prepareupdate?api-version=2018-06-28", Json::object()).status == 404);
}
