// `iotedge list / logs / restart` run as the user runs them, against our management API.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <thread>

#include "common/http/server.h"
#include "edged/management.h"
#include "edged/module.h"
#include "tests/support/harness.h"

using namespace edged;

TEST_CASE("iotedge list logs and restart talk to the management API", "[docker]") {
  edge::test::TempDir dir;
  docker::Client docker;
  std::string name = "cli-module-" + std::to_string(getpid());
  (void)docker.remove_container(name, true);
  Management mgmt(ManagementOptions{"/var/run/docker.sock", "cli-agent-" + std::to_string(getpid()), "1.5.0"});
  edge::http::Server server([&](edge::http::Request& r) { return mgmt.handle(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "mgmt.sock")));
  std::thread t([&] { server.run(); });
  // A module as the agent would have created it.
  ModuleSpec spec{name, "edge-test-busybox:1", {{"Cmd", {"/bin/sh", "-c", "trap 'exit 0' TERM; echo hello from $MODULE; sleep 60 & wait"}}},
                  {{"MODULE", name}}, PullPolicy::Never, std::nullopt};
  REQUIRE(docker.create_container(name, create_body(spec)));
  REQUIRE(docker.start(name));
  std::string iotedge = edge::test::bin("iotedge") + " -H unix://" + dir / "mgmt.sock";

  std::string out;
  REQUIRE(edge::test::run(iotedge + " list", &out) == 0);
  INFO(out);
  // Columns as upstream's tabwriter: left-aligned, at least 15 wide, 2 spaces of padding.
  auto header = out.substr(0, out.find('\n'));
  auto row = out.substr(out.find(name));
  CHECK_THAT(header, Catch::StartsWith("NAME"));
  // Other tests may have labelled containers running at the same time: the NAME column is as
  // wide as the longest name listed.
  size_t longest = 0;
  for (size_t at = out.find('\n') + 1; at < out.size(); at = out.find('\n', at) + 1)
    longest = std::max(longest, out.find(' ', at) - at);
  CHECK(header.find("STATUS") == std::max<size_t>(longest + 2, 15));
  CHECK(row.find("running") == header.find("STATUS"));
  CHECK(header.find("DESCRIPTION") - header.find("STATUS") == 15);
  CHECK(row.find("Up ") == header.find("DESCRIPTION"));
  CHECK_THAT(out, Catch::Contains(name) && Catch::Contains("running") && Catch::Contains("Up ") &&
                      Catch::Contains("edge-test-busybox:1"));

  for (int i = 0; i < 50 && out.find("hello from") == std::string::npos; ++i) {
    edge::test::run(iotedge + " logs --tail 5 " + name, &out);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(out == "hello from " + name + "\n");  // frame headers stripped

  REQUIRE(edge::test::run(iotedge + " restart " + name, &out) == 0);
  CHECK(out == "Restarted " + name + "\n");
  CHECK((*docker.inspect_container(name))["State"]["Running"] == true);

  CHECK(edge::test::run(iotedge + " logs absent-module 2>&1", &out) == 1);
  CHECK_THAT(out, Catch::Contains("A module runtime error occurred") && Catch::Contains("absent-module"));
  CHECK(edge::test::run(edge::test::bin("iotedge") + " -H unix://" + dir / "nothing.sock list 2>&1", &out) == 1);
  CHECK_THAT(out, Catch::Contains("nothing.sock"));
  (void)docker.remove_container(name, true);
  server.stop();
  t.join();
}
