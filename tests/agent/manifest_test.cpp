#include "agent/manifest.h"

#include <catch2/catch.hpp>

using namespace agent;

namespace {
Json manifest() {
  return Json::parse(R"({
    "schemaVersion": "1.1",
    "runtime": {"type": "docker", "settings": {"registryCredentials": {
        "local": {"address": "$upstream:5000", "username": "edgeuser", "password": "edgepass"}}}},
    "systemModules": {
      "edgeAgent": {"type": "docker", "settings": {"image": "$upstream:443/azureiotedge-agent:1.5", "createOptions": "{}"}},
      "edgeHub": {"type": "docker", "status": "running", "restartPolicy": "always", "startupOrder": 0,
                  "settings": {"image": "mcr.microsoft.com/azureiotedge-hub:1.5",
                               "createOptions": "{\"HostConfig\":{\"PortBindings\":",
                               "createOptions01": "{\"8883/tcp\":[{\"HostPort\":\"8883\"}]}}}"}}},
    "modules": {
      "sensor": {"version": "1.0", "type": "docker", "status": "running", "restartPolicy": "on-failure",
                 "startupOrder": 2, "settings": {"image": " 127.0.0.1:5000/sensor "},
                 "env": {"INTERVAL": {"value": "5"}, "EMPTY": {"value": null}}}},
    "$version": 4
  })");
}
}  // namespace

TEST_CASE("a deployment manifest is parsed with upstream's defaults and normalization", "[unit]") {
  auto d = parse_deployment(manifest(), "parent.local");
  INFO((d ? "" : d.error().message));
  REQUIRE(d);
  REQUIRE(d->edge_agent);
  CHECK(d->edge_agent->image == "parent.local:443/azureiotedge-agent:1.5");
  CHECK(d->edge_agent->startup_order == 0);
  CHECK(d->registry_credentials.at("local").address == "parent.local:5000");
  REQUIRE(d->edge_hub);
  CHECK(d->edge_hub->create_options["HostConfig"]["PortBindings"]["8883/tcp"][0]["HostPort"] ==
        "8883");
  const auto& sensor = d->modules.at("sensor");
  CHECK(sensor.image == "127.0.0.1:5000/sensor:latest");
  CHECK(sensor.restart_policy == RestartPolicy::OnFailure);
  CHECK(sensor.startup_order == 2);
  CHECK(sensor.env.at("INTERVAL") == "5");
  CHECK(sensor.env.at("EMPTY") == "");
  CHECK(d->all().size() == 3);
  auto defaults = manifest();
  defaults["modules"]["sensor"].erase("restartPolicy");
  defaults["modules"]["sensor"].erase("startupOrder");
  auto d2 = parse_deployment(defaults, "parent.local");
  REQUIRE(d2);
  CHECK(d2->modules.at("sensor").restart_policy == RestartPolicy::OnUnhealthy);
  CHECK(d2->modules.at("sensor").startup_order == kDefaultStartupOrder);
}

TEST_CASE("bad manifests are reported with upstream's status codes", "[unit]") {
  auto code = [](Json j, const std::string& gateway = "parent") {
    auto d = parse_deployment(j, gateway);
    return d ? 200 : d.error().code;
  };
  CHECK(code(Json{{"$version", 3}}) == 417);
  for (std::string v : {"1", "1.2", "2.0", "0.1", "1.1.1", "x"}) {
    auto j = manifest();
    j["schemaVersion"] = v;
    INFO(v);
    CHECK(code(j) == 412);
  }
  for (std::string v : {"1.0", "1.1", "1.1.0"}) {
    auto j = manifest();
    j["schemaVersion"] = v;
    CHECK(code(j) == 200);
  }
  auto runtime = manifest();
  runtime["runtime"]["type"] = "rkt";
  CHECK(code(runtime) == 400);
  auto reserved = manifest();
  reserved["modules"]["edgeHub"] = reserved["modules"]["sensor"];
  CHECK(code(reserved) == 400);
  auto bad_name = manifest();
  bad_name["modules"]["9lives"] = bad_name["modules"]["sensor"];
  CHECK(code(bad_name) == 400);
  auto no_status = manifest();
  no_status["modules"]["sensor"].erase("status");
  CHECK(code(no_status) == 400);
  auto gap = manifest();
  gap["systemModules"]["edgeHub"]["settings"]["createOptions02"] = "{}";
  CHECK(code(gap) == 400);
  auto not_json = manifest();
  not_json["modules"]["sensor"]["settings"]["createOptions"] = "{not json";
  CHECK(code(not_json) == 400);
  auto huge = manifest();
  huge["modules"]["sensor"]["settings"]["createOptions"] =
      "{\"Labels\":{\"a\":\"" + std::string(70000, 'x') + "\"}}";
  CHECK(code(huge) == 400);
  auto many = manifest();
  for (int i = 0; i < 500; ++i)
    many["modules"]["m" + std::to_string(i)] = many["modules"]["sensor"];
  CHECK(code(many) == 400);
  auto spaces = manifest();
  spaces["modules"]["sensor"]["settings"]["image"] = "bad image:1";
  CHECK(code(spaces) == 400);
  CHECK(code(manifest(), "") == 400);  // $upstream without a parent
  auto cred = manifest();
  cred["runtime"]["settings"]["registryCredentials"]["local"]["password"] = " ";
  CHECK(code(cred) == 400);
}
