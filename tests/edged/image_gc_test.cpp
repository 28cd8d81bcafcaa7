// Image garbage collection: the image_use state file, and a collection on the real engine
// that removes an old unused image and keeps images in use (only images this test built).
#include "edged/image_gc.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "edged/module.h"
#include "tests/support/harness.h"

using namespace edged;

namespace {
// A one-layer image with a unique id (a unique label on top of the busybox test image).
std::string build_image(const edge::test::TempDir& dir, const std::string& tag) {
  std::string ctx = dir / ("ctx-" + std::to_string(std::hash<std::string>{}(tag)));
  std::string out;
  REQUIRE(edge::test::run("mkdir -p " + ctx) == 0);
  edge::test::write_file(ctx + "/Dockerfile",
                         "FROM edge-test-busybox:1\nLABEL edged.test.image=\"" + tag + "\"\n");
  int rc = edge::test::run("mkdir -p " + ctx + " && tar -C " + ctx + " -cf " + ctx +
                               ".tar Dockerfile && curl -sf --unix-socket /var/run/docker.sock "
                               "-X POST -H 'Content-Type: application/x-tar' --data-binary @" +
                               ctx +
                               ".tar "
                               "'http://localhost/v1.41/build?rm=1&t=" +
                               tag + "'",
                           &out);
  INFO(out);
  REQUIRE(rc == 0);
  docker::Client docker;
  auto info = docker.inspect_image(tag);
  REQUIRE(info);
  return (*info)["Id"];
}
}  // namespace

TEST_CASE("image use records survive and malformed files prune nothing", "[unit]") {
  edge::test::TempDir dir;
  ImageUse use(dir.path());
  CHECK(use.load()->empty());
  REQUIRE(use.record("sha256:aaa", 1000));
  REQUIRE(use.record("sha256:bbb", 5000));
  REQUIRE(use.record("sha256:aaa", 2000));
  CHECK(edge::test::read_file(dir / "image_use") == "sha256:aaa 2000\nsha256:bbb 5000\n");
  CHECK_FALSE(use.record("bad id", 1));
  // Threshold 1000 s at t=3500: aaa (1500 s unused) expires; bbb is young; ccc is in use.
  REQUIRE(use.record("sha256:ccc", 100));
  auto expired = use.take_expired({"sha256:ccc"}, 1000, 3500);
  REQUIRE(expired);
  CHECK(*expired == std::vector<std::string>{"sha256:aaa"});
  CHECK(edge::test::read_file(dir / "image_use") == "sha256:bbb 5000\nsha256:ccc 3500\n");

  edge::test::write_file(dir / "image_use", "sha256:aaa notanumber\n");
  CHECK_FALSE(use.take_expired({}, 0, 99999));
  CHECK(edge::test::read_file(dir / "image_use") == "sha256:aaa notanumber\n");  // left alone
  CHECK_FALSE(use.record("sha256:x", 1));
}

TEST_CASE("the next cleanup is at cleanup_time local time", "[unit]") {
  CHECK(seconds_until_cleanup(0, 0) == 86400);
  CHECK(seconds_until_cleanup(10 * 3600, 11 * 60) == 3600);
  CHECK(seconds_until_cleanup(11 * 3600 + 1, 11 * 60) == 86400 - 1);
}

TEST_CASE("image gc removes an old unused image and keeps used ones", "[docker]") {
  edge::test::TempDir dir;
  docker::Client docker;
  std::string prefix = "edged-gc-test-" + std::to_string(getpid());
  std::string unused_tag = prefix + "-unused:1", used_tag = prefix + "-used:1",
              agent_tag = prefix + "-agent:1", young_tag = prefix + "-young:1",
              container = prefix + "-module";
  std::string unused = build_image(dir, unused_tag), used = build_image(dir, used_tag),
              agent = build_image(dir, agent_tag), young = build_image(dir, young_tag);
  (void)docker.remove_container(container, true);
  ModuleSpec spec{container, used_tag,          {{"Cmd", {"sleep", "60"}}},
                  {},        PullPolicy::Never, std::nullopt};
  REQUIRE(docker.create_container(container, create_body(spec)));

  ImageUse use(dir.path());
  long long now = std::time(nullptr);
  for (const auto& id : {unused, used, agent}) REQUIRE(use.record(id, now - 3 * 86400));
  REQUIRE(use.record(young, now - 3600));
  ImageGcConfig config;
  config.image_age_cleanup_threshold = 86400;
  ImageGc gc(docker, use, config, agent_tag);
  auto removed = gc.run_once(now);
  REQUIRE(removed);
  CHECK(*removed == std::vector<std::string>{unused});
  auto gone = docker.inspect_image(unused_tag);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().kind == edge::ErrorKind::NotFound);
  CHECK(docker.inspect_image(used_tag));
  CHECK(docker.inspect_image(agent_tag));
  CHECK(docker.inspect_image(young_tag));
  auto left = use.load();
  REQUIRE(left);
  CHECK(left->size() == 3);
  CHECK(left->at(used) == now);  // in use: its time is refreshed
  CHECK(left->at(young) == now - 3600);
  CHECK(left->at(agent) == now);  // the bootstrap agent image is never collected

  (void)docker.remove_container(container, true);
  for (const auto& tag : {used_tag, agent_tag, young_tag}) (void)docker.remove_image(tag, true);
}
