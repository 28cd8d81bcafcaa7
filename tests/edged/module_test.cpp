// ModuleSpec -> Docker create body, container -> ModuleDetails, and upstream's time syntax.
#include <catch2/catch.hpp>

#include "edged/module.h"

using namespace edged;
using edge::http::Json;

namespace {
Json spec_json(Json create_options = Json::object(), Json env = Json::array()) {
  return Json{{"name", "tempSensor"},
              {"type", "docker"},
              {"config", {{"settings", {{"image", "127.0.0.1:5000/sensor:1.0"}, {"createOptions", create_options}}},
                          {"env", env}}}};
}
}  // namespace

TEST_CASE("module specs become Docker create bodies with upstream's merge rules", "[unit]") {
  auto spec = parse_module_spec(spec_json(
      Json{{"Env", {"B=from-create-options", "C=c"}}, {"Labels", {{"mine", "1"}}}, {"HostConfig", {{"Privileged", false}}}},
      Json::array({{{"key", "B"}, {"value", "from-spec"}}, {{"key", "A"}, {"value", "a"}}})));
  REQUIRE(spec);
  CHECK(spec->pull_policy == PullPolicy::OnCreate);
  Json body = create_body(*spec);
  CHECK(body["Image"] == "127.0.0.1:5000/sensor:1.0");
  CHECK(body["Env"] == Json::array({"A=a", "B=from-create-options", "C=c"}));
  CHECK(body["Labels"]["mine"] == "1");
  CHECK(body["Labels"]["net.azure-devices.edge.owner"] == "Microsoft.Azure.Devices.Edge.Agent");
  CHECK(body["Labels"]["net.azure-devices.edge.original-image"] == "127.0.0.1:5000/sensor:1.0");
  CHECK(body["HostConfig"]["Privileged"] == false);
}

TEST_CASE("bad module specs are refused with a clear reason", "[unit]") {
  auto check = [](Json j, const std::string& expected) {
    auto r = parse_module_spec(j);
    INFO(j.dump());
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == edge::ErrorKind::InvalidParameter);
    CHECK_THAT(r.error().message, Catch::Contains(expected));
  };
  Json dup = spec_json(Json::object(), Json::array({{{"key", "A"}, {"value", "1"}}, {{"key", "A"}, {"value", "2"}}}));
  check(dup, "duplicate environment variable \"A\"");
  Json wrong_type = spec_json();
  wrong_type["type"] = "rkt";
  check(wrong_type, "invalid module type");
  Json spaces = spec_json();
  spaces["config"]["settings"]["image"] = "my image:1";
  check(spaces, "invalid Docker config");
  Json no_image = spec_json();
  no_image["config"]["settings"].erase("image");
  check(no_image, "image");
  Json huge = spec_json(Json{{"Labels", {{"big", std::string(600 * 1024, 'x')}}}});
  check(huge, "createOptions larger than");
  Json not_object = spec_json();
  not_object["config"]["settings"]["createOptions"] = "{\"a\":1}";
  check(not_object, "createOptions must be an object");
  Json policy = spec_json();
  policy["imagePullPolicy"] = "sometimes";
  check(policy, "invalid image pull policy");
  check(Json::array(), "expected a JSON object");
  auto never = spec_json();
  never["imagePullPolicy"] = "Never";
  CHECK(parse_module_spec(never)->pull_policy == PullPolicy::Never);
}

TEST_CASE("docker states map to module statuses", "[unit]") {
  CHECK(runtime_status(Json{{"Status", "running"}}) == "running");
  CHECK(runtime_status(Json{{"Status", "created"}}) == "stopped");
  CHECK(runtime_status(Json{{"Status", "exited"}, {"ExitCode", 0}}) == "stopped");
  CHECK(runtime_status(Json{{"Status", "exited"}, {"ExitCode", 137}}) == "failed");
  CHECK(runtime_status(Json{{"Status", "dead"}}) == "dead");
  CHECK(runtime_status(Json{{"Status", "weird"}}) == "unknown");
  Json inspect{{"Id", "abc"}, {"Name", "/sensor"}, {"Image", "sha256:1"},
               {"State", {{"Status", "exited"}, {"ExitCode", 3}, {"StartedAt", "2026-01-01T00:00:00.5Z"}, {"FinishedAt", "2026-01-01T00:01:00Z"}}},
               {"Config", {{"Labels", {{"net.azure-devices.edge.original-image", "reg/sensor:1"}}}}}};
  Json d = module_details(inspect);
  CHECK(d["name"] == "sensor");
  CHECK(d["config"]["settings"]["image"] == "reg/sensor:1");
  CHECK(d["status"]["runtimeStatus"]["status"] == "failed");
  CHECK(d["status"]["exitStatus"]["statusCode"] == "3");
  inspect["State"] = {{"Status", "created"}, {"ExitCode", 0}, {"StartedAt", "0001-01-01T00:00:00Z"}, {"FinishedAt", "0001-01-01T00:00:00Z"}};
  d = module_details(inspect);
  CHECK_FALSE(d["status"].contains("startTime"));
  CHECK_FALSE(d["status"].contains("exitStatus"));
}

TEST_CASE("since and until accept RFC 3339 epochs and durations", "[unit]") {
  long long now = 1800000000;
  CHECK(parse_since("1700000000", now) == 1700000000);
  CHECK(parse_since("2024-01-01T00:00:00Z", now) == 1704067200);
  CHECK(parse_since("2024-01-01T02:00:00+02:00", now) == 1704067200);
  CHECK(parse_since("1d", now) == now - 86400);
  CHECK(parse_since("90m", now) == now - 5400);
  CHECK(parse_since("2 days 3 hours", now) == now - 2 * 86400 - 3 * 3600);
  for (std::string bad : {"", "yesterday", "1 fortnight", "2024-13-45T00:00:00Z", "2024-01-01T00:00:00", "5x"}) {
    INFO(bad);
    CHECK_FALSE(parse_since(bad, now));
  }
}
