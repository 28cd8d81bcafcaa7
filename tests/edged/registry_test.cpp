// Pulls with registry credentials from a local docker-registry (htpasswd auth, on loopback):
// the management API's module pulls and the agent's pull from [agent.config.auth] with
// $upstream resolved; imagePullPolicy "never" with a missing image. Real engine, real registry.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.h"
#include "common/http/server.h"
#include "edged/agent_spec.h"
#include "edged/image_gc.h"
#include "edged/management.h"
#include "edged/startup.h"
#include "edged/watchdog.h"
#include "tests/support/harness.h"

using namespace edged;

namespace {
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct Registry {
  edge::test::TempDir dir;
  int port = free_port();
  std::string host = "127.0.0.1:" + std::to_string(port);
  std::unique_ptr<edge::test::Process> process;
  docker::Client docker;
  std::string repo = host + "/edged-test/img-" + std::to_string(getpid());

  Registry() {
    REQUIRE(edge::test::run("htpasswd -Bbn edge-user 'edge-pass' > " + dir / "htpasswd") == 0);
    edge::test::write_file(
        dir / "config.yml",
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: " +
            dir / "data" + "\nhttp:\n  addr: " + host +
            "\nauth:\n  htpasswd:\n    realm: edged-test\n    path: " + dir / "htpasswd" + "\n");
    process = std::make_unique<edge::test::Process>(
        std::vector<std::string>{"/usr/bin/docker-registry", "serve", dir / "config.yml"},
        std::map<std::string, std::string>{}, dir / "registry.log");
    std::string out;
    for (int i = 0; i < 100; ++i) {
      edge::test::run("curl -s -o /dev/null -w '%{http_code}' http://" + host + "/v2/", &out);
      if (out == "401") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    INFO(edge::test::read_file(dir / "registry.log"));
    REQUIRE(out == "401");
  }
  ~Registry() { process->stop(); }
  docker::RegistryAuth good() const { return {"edge-user", "edge-pass", host}; }

  // Pushes the busybox test image as repo:tag (a unique tag), then drops the local tag.
  std::string push(const std::string& tag) {
    std::string image = repo + ":" + tag;
    std::string out;
    REQUIRE(edge::test::run("curl -sf --unix-socket /var/run/docker.sock -X POST "
                            "'http://localhost/v1.41/images/edge-test-busybox:1/tag?repo=" +
                                repo + "&tag=" + tag + "'",
                            &out) == 0);
    Json auth{{"username", "edge-user"}, {"password", "edge-pass"}, {"serveraddress", host}};
    REQUIRE(edge::test::run(
                "curl -sf --unix-socket /var/run/docker.sock -X POST -H 'X-Registry-Auth: " +
                    edge::base64::encode_url(auth.dump()) + "' 'http://localhost/v1.41/images/" +
                    repo + "/push?tag=" + tag + "'",
                &out) == 0);
    INFO(out);
    REQUIRE(out.find("errorDetail") == std::string::npos);
    REQUIRE(docker.remove_image(image));  // untag only: busybox keeps its other tag
    return image;
  }
};
}  // namespace

TEST_CASE("module pulls use the spec's registry credentials", "[docker][registry]") {
  Registry reg;
  std::string image = reg.push("module");
  edge::test::TempDir dir;
  ImageUse use(dir.path());

  // Through the management API, as the agent calls it (from a process in the agent's container):
  // the spec's settings.auth reaches the engine as X-Registry-Auth.
  std::string agent = "edged-reg-caller-" + std::to_string(getpid()),
              module = "edged-reg-mod-" + std::to_string(getpid());
  ManagementOptions options{"/var/run/docker.sock", agent, "1.5.0"};
  options.image_use = &use;
  Management mgmt(options);
  edge::http::Server server([&](edge::http::Request& r) { return mgmt.handle(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "mgmt.sock")));
  std::thread serving([&] { server.run(); });
  edge::test::run("cp " UDS_REQUEST " " + dir / "uds-request");
  auto as_agent = [&](const Json& body) {
    (void)reg.docker.remove_container(agent, true);
    Json create{{"Image", "edge-test-busybox:1"},
                {"Cmd",
                 {"/edge/uds-request", "/edge/mgmt.sock", "POST", "/modules?api-version=2022-08-03",
                  body.dump()}},
                {"HostConfig", {{"Binds", {dir.path() + ":/edge"}}}}};
    REQUIRE(reg.docker.create_container(agent, create));
    REQUIRE(reg.docker.start(agent));
    for (int i = 0; i < 600; ++i) {
      auto info = reg.docker.inspect_container(agent);
      if (info && !(*info)["State"].value("Running", true)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string out;
    REQUIRE(reg.docker.logs(agent, {}, [&](const docker::LogFrame& f) {
      out += f.text;
      return true;
    }));
    return out;
  };
  auto spec = [&](const std::optional<Json>& auth) {
    Json settings{{"image", image}, {"createOptions", {{"Cmd", {"true"}}}}};
    if (auth) settings["auth"] = *auth;
    return Json{{"name", module}, {"type", "docker"}, {"config", {{"settings", settings}}}};
  };
  std::string refused = as_agent(
      spec(Json{{"username", "edge-user"}, {"password", "wrong"}, {"serveraddress", reg.host}}));
  CHECK_THAT(refused,
             Catch::StartsWith("HTTP/1.1 500") && Catch::Contains("could not pull " + image));
  CHECK_FALSE(reg.docker.inspect_container(module));
  std::string created = as_agent(spec(
      Json{{"username", "edge-user"}, {"password", "edge-pass"}, {"serveraddress", reg.host}}));
  INFO(created);
  CHECK_THAT(created, Catch::StartsWith("HTTP/1.1 201"));
  CHECK(reg.docker.inspect_container(module));
  (void)reg.docker.remove_container(module, true);
  (void)reg.docker.remove_container(agent, true);
  server.stop();
  serving.join();
  CHECK(use.load()->size() == 1);  // the pulled image's use, recorded for image GC
  REQUIRE(reg.docker.remove_image(image));
  ::unlink(use.path().c_str());

  auto missing = pull_and_record(reg.docker, image, std::nullopt, &use);
  REQUIRE_FALSE(missing);
  INFO(missing.error().message);
  CHECK_THAT(missing.error().message,
             Catch::Contains("could not pull " + image) &&
                 (Catch::Contains("no basic auth credentials") || Catch::Contains("unauthorized")));
  auto wrong = pull_and_record(reg.docker, image,
                               docker::RegistryAuth{"edge-user", "wrong", reg.host}, &use);
  REQUIRE_FALSE(wrong);
  INFO(wrong.error().message);
  CHECK_THAT(wrong.error().message,
             Catch::Contains("could not pull " + image) && Catch::Contains("unauthorized"));
  CHECK_FALSE(reg.docker.inspect_image(image));
  CHECK(use.load()->empty());

  REQUIRE(pull_and_record(reg.docker, image, reg.good(), &use));
  auto pulled = reg.docker.inspect_image(image);
  REQUIRE(pulled);
  CHECK(use.load()->contains((*pulled)["Id"].get<std::string>()));  // recorded for image GC
  CHECK(reg.docker.remove_image(image));
}

TEST_CASE("the agent is pulled from the parent with its auth and $upstream resolved",
          "[docker][registry]") {
  Registry reg;
  std::string image = reg.push("agent");
  edge::test::TempDir dir;
  std::string suffix = std::to_string(getpid());
  Config config;
  config.hostname = "child-device";
  config.homedir = dir.path();
  config.connect_management_uri = "unix://" + dir / "mgmt.sock";
  config.connect_workload_uri = "unix://" + dir / "workload.sock";
  config.network.name = "edged-reg-net-" + suffix;
  config.agent.name = "edged-reg-agent-" + suffix;
  config.agent.image =
      "$upstream:" + std::to_string(reg.port) + "/edged-test/img-" + suffix + ":agent";
  config.agent.auth =
      docker::RegistryAuth{"edge-user", "edge-pass", "$upstream:" + std::to_string(reg.port)};
  config.agent.create_options = Json{{"Cmd", {"sleep", "60"}}};
  resolve_agent_upstream(config.agent, "127.0.0.1");
  CHECK(config.agent.image == image);
  docker::Client docker;
  REQUIRE(ensure_network(docker, config.network));
  ImageUse use(dir.path());
  (void)docker.remove_container(config.agent.name, true);

  // Wrong credentials: a clear error, nothing created.
  Config wrong = config;
  wrong.agent.auth->password = "nope";
  Watchdog bad(docker, {wrong, {"dev", "hub", "127.0.0.1"}, dir.path(), nullptr, &use, {}});
  auto r = bad.check();
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message,
             Catch::Contains("Failed to pull Edge runtime module") && Catch::Contains(image));
  CHECK_FALSE(docker.inspect_container(config.agent.name));

  Watchdog good(docker, {config, {"dev", "hub", "127.0.0.1"}, dir.path(), nullptr, &use, {}});
  auto created = good.check();
  INFO((created ? "" : created.error().message));
  REQUIRE(created);
  CHECK(*created == "created");
  auto info = docker.inspect_container(config.agent.name);
  REQUIRE(info);
  CHECK((*info)["Config"]["Image"] == image);
  CHECK((*info)["Config"]["Labels"]["net.azure-devices.edge.original-image"] == image);
  CHECK((*info)["State"]["Running"] == true);
  CHECK(use.load()->contains((*info)["Image"].get<std::string>()));

  (void)docker.remove_container(config.agent.name, true);
  (void)docker.remove_network(config.network.name);
  (void)docker.remove_image(image);
}

TEST_CASE("imagePullPolicy never with a missing agent image fails clearly", "[docker]") {
  edge::test::TempDir dir;
  std::string suffix = std::to_string(getpid());
  Config config;
  config.homedir = dir.path();
  config.connect_management_uri = "unix://" + dir / "mgmt.sock";
  config.connect_workload_uri = "unix://" + dir / "workload.sock";
  config.agent.name = "edged-never-agent-" + suffix;
  config.agent.image = "edged-test-absent-" + suffix + ":1";
  config.agent.pull_policy = PullPolicy::Never;
  docker::Client docker;
  Watchdog w(docker, {config, {"dev", "hub", "hub"}, dir.path(), nullptr, nullptr, {}});
  auto r = w.check();
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message,
             Catch::Contains("image " + config.agent.image + " is not on this device") &&
                 Catch::Contains("imagePullPolicy is \"never\""));
  CHECK_FALSE(docker.inspect_container(config.agent.name));

  // Every check fails: with [watchdog] max_retries = 2 the watchdog gives up (edged exits 1).
  config.watchdog_max_retries = 2;
  Watchdog limited(docker, {config, {"dev", "hub", "hub"}, dir.path(), nullptr, nullptr, {}});
  StopSignal stop;
  auto t0 = std::chrono::steady_clock::now();
  auto run = limited.run(stop, std::chrono::milliseconds(100));
  REQUIRE_FALSE(run);
  CHECK_THAT(run.error().message, Catch::Contains("exceeded allowed retries"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}
