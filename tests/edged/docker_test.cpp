// The Docker Engine client against the real engine (scripts/setup/docker.sh starts it and
// builds the busybox test image) and a real local registry.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <atomic>
#include <set>
#include <thread>

#include "edged/docker.h"
#include "tests/support/harness.h"

using namespace edged::docker;
using edge::ErrorKind;

namespace {
const std::string kImage = "edge-test-busybox:1";
std::string unique(const std::string& base) { return base + "-" + std::to_string(getpid()); }

struct Cleanup {
  Client& c;
  std::vector<std::string> names;
  ~Cleanup() {
    for (auto& n : names) (void)c.remove_container(n, true);
  }
};

Json busybox(const std::string& cmd, Json labels = Json::object()) {
  return Json{{"Image", kImage},
              {"Cmd", {"/bin/sh", "-c", cmd}},
              {"Labels", labels},
              {"Env", {"MODULE_ID=test"}},
              {"HostConfig", {{"RestartPolicy", {{"Name", "no"}}}}}};
}
}  // namespace

TEST_CASE("image references parse as the engine reads them", "[unit]") {
  auto r = parse_image("127.0.0.1:5000/edge/agent:1.5");
  REQUIRE(r);
  CHECK(r->repository == "127.0.0.1:5000/edge/agent");
  CHECK(r->tag == "1.5");
  CHECK(r->registry == "127.0.0.1:5000");
  r = parse_image("mcr.microsoft.com/azureiotedge-agent:1.5");
  REQUIRE(r);
  CHECK(r->registry == "mcr.microsoft.com");
  CHECK(r->tag == "1.5");
  r = parse_image("busybox");
  REQUIRE(r);
  CHECK(r->tag == "latest");
  CHECK(r->registry == "docker.io");
  r = parse_image("localhost:5000/x@sha256:" + std::string(64, 'a'));
  REQUIRE(r);
  CHECK(r->digest.size() == 71);
  CHECK(r->tag.empty());
  for (std::string bad : {"", "has space:1", "UPPER/case:1", "repo:", "x@sha256:short", "tab\tname"}) {
    INFO(bad);
    CHECK_FALSE(parse_image(bad));
  }
}

TEST_CASE("log streams are demultiplexed across partial reads", "[unit]") {
  std::string frame1 = std::string("\x01\0\0\0\0\0\0\x06", 8) + "hello\n";
  std::string frame2 = std::string("\x02\0\0\0\0\0\0\x04", 8) + "err\n";
  std::string all = frame1 + frame2;
  LogDemuxer d(false);
  std::vector<LogFrame> frames;
  for (char c : all) REQUIRE(d.feed(std::string_view(&c, 1), [&](const LogFrame& f) { frames.push_back(f); }));
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].stream == 1);
  CHECK(frames[0].text == "hello\n");
  CHECK(frames[1].stream == 2);
  LogDemuxer bad(false);
  CHECK_FALSE(bad.feed("garbage!not a frame", [](const LogFrame&) {}));
  LogDemuxer tty(true);
  tty.feed("raw", [&](const LogFrame& f) { CHECK(f.text == "raw"); });
}

TEST_CASE("containers are created started inspected and removed", "[docker]") {
  Client c;
  std::string name = unique("edge-test-lifecycle");
  Cleanup cleanup{c, {name}};
  (void)c.remove_container(name, true);
  auto id = c.create_container(name, busybox("echo out; echo err >&2; exec sleep 30", {{"net.azure-devices.edge.owner", "test-" + std::to_string(getpid())}}));
  REQUIRE(id);
  auto dup = c.create_container(name, busybox("true"));
  REQUIRE_FALSE(dup);
  CHECK(dup.error().kind == ErrorKind::Conflict);
  REQUIRE(c.start(name));
  REQUIRE(c.start(name));  // already running: not an error
  auto info = c.inspect_container(name);
  REQUIRE(info);
  CHECK((*info)["State"]["Running"] == true);
  CHECK((*info)["Config"]["Labels"]["net.azure-devices.edge.owner"] == "test-" + std::to_string(getpid()));
  auto listed = c.list_containers({"net.azure-devices.edge.owner=test-" + std::to_string(getpid())});
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0]["Id"] == *id);

  auto top = c.top(name);
  REQUIRE(top);
  CHECK((*top)["Processes"].size() >= 1);

  std::vector<LogFrame> frames;
  for (int i = 0; i < 50 && frames.size() < 2; ++i) {
    frames.clear();
    REQUIRE(c.logs(name, LogOptions{}, [&](const LogFrame& f) {
      frames.push_back(f);
      return true;
    }));
    if (frames.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(frames.size() == 2);
  std::set<std::pair<int, std::string>> got{{frames[0].stream, frames[0].text}, {frames[1].stream, frames[1].text}};
  CHECK(got == std::set<std::pair<int, std::string>>{{1, "out\n"}, {2, "err\n"}});

  REQUIRE(c.stop(name, 1));
  REQUIRE(c.stop(name, 1));  // already stopped: not an error
  info = c.inspect_container(name);
  CHECK((*info)["State"]["Running"] == false);
  CHECK((*info)["State"]["ExitCode"] == 137);
  REQUIRE(c.remove_container(name, false));
  auto gone = c.inspect_container(name);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == ErrorKind::NotFound);
  CHECK(c.remove_container(name, true).error().kind == ErrorKind::NotFound);
}

TEST_CASE("following logs ends when the container stops and events report exits", "[docker]") {
  Client c;
  std::string name = unique("edge-test-follow");
  Cleanup cleanup{c, {name}};
  (void)c.remove_container(name, true);
  REQUIRE(c.create_container(name, busybox("for i in 1 2 3; do echo line$i; sleep 0.2; done; exit 3")));
  std::atomic<bool> died{false};
  std::thread watcher([&] {
    (void)c.events(Json{{"container", {name}}, {"event", {"die"}}},
                   [&](const Json& e) {
                     died = e.value("status", "") == "die";
                     return !died;
                   },
                   std::chrono::seconds(20));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(c.start(name));
  std::string text;
  LogOptions follow;
  follow.follow = true;
  REQUIRE(c.logs(name, follow, [&](const LogFrame& f) {
    text += f.text;
    return true;
  }));
  CHECK(text == "line1\nline2\nline3\n");
  watcher.join();
  CHECK(died);
  CHECK((*c.inspect_container(name))["State"]["ExitCode"] == 3);
}

TEST_CASE("an engine that does not answer is reported as unavailable", "[unit]") {
  Client c("/nonexistent/docker.sock");
  auto v = c.version();
  REQUIRE_FALSE(v);
  CHECK(v.error().kind == ErrorKind::Unavailable);
  CHECK_THAT(v.error().message, Catch::Contains("/nonexistent/docker.sock"));
}

TEST_CASE("pulls from a local registry with good missing and wrong credentials", "[docker]") {
  edge::test::TempDir dir;
  int port = 15000 + getpid() % 1000;
  std::string htpasswd;
  REQUIRE(edge::test::run("htpasswd -Bbn edgeuser edgepass", &htpasswd) == 0);
  edge::test::write_file(dir / "htpasswd", htpasswd);
  edge::test::write_file(dir / "config.yml",
                         "version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: " + dir.path() +
                             "/data }\nhttp: { addr: 127.0.0.1:" + std::to_string(port) +
                             " }\nauth:\n  htpasswd: { realm: edge, path: " + dir.path() + "/htpasswd }\n");
  edge::test::Process registry({"/usr/bin/docker-registry", "serve", dir / "config.yml"}, {}, dir / "registry.log");
  std::string base = "http://127.0.0.1:" + std::to_string(port) + "/v2/";
  for (int i = 0; i < 100 && edge::test::run("curl -s -o /dev/null " + base) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::string remote = "127.0.0.1:" + std::to_string(port) + "/edge/busybox:" + std::to_string(getpid());
  std::string docker_config = "DOCKER_CONFIG=" + dir.path() + " ";
  REQUIRE(edge::test::run("docker tag " + kImage + " " + remote) == 0);
  REQUIRE(edge::test::run("echo edgepass | " + docker_config + "docker login -u edgeuser --password-stdin 127.0.0.1:" +
                          std::to_string(port) + " >/dev/null 2>&1") == 0);
  REQUIRE(edge::test::run(docker_config + "docker push " + remote + " >/dev/null 2>&1") == 0);
  REQUIRE(edge::test::run("docker rmi " + remote + " >/dev/null 2>&1") == 0);

  Client c;
  std::string server = "127.0.0.1:" + std::to_string(port);
  auto missing = c.pull(remote, std::nullopt);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("no basic auth credentials"));
  auto wrong = c.pull(remote, RegistryAuth{"edgeuser", "wrong", server});
  REQUIRE_FALSE(wrong);
  CHECK_THAT(wrong.error().message, Catch::Contains("unauthorized"));
  REQUIRE(c.pull(remote, RegistryAuth{"edgeuser", "edgepass", server}));
  CHECK(c.inspect_image(remote));
  auto absent = c.pull("127.0.0.1:" + std::to_string(port) + "/edge/none:1", RegistryAuth{"edgeuser", "edgepass", server});
  REQUIRE_FALSE(absent);
  CHECK(absent.error().kind == ErrorKind::NotFound);
  CHECK(c.remove_image(remote));
}
