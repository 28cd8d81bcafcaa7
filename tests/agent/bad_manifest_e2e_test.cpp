// Bad manifests given to a running agent: each is reported with upstream's status code and
// the running modules stay exactly as they were (same container, still running).
#include <catch2/catch.hpp>

#include "tests/agent/agent_rig.h"

using namespace agent_test;

TEST_CASE("bad manifests are rejected and running modules are untouched", "[docker][e2e]") {
  AgentRig rig;
  std::string m = rig.name("steady");
  Json good_module = module("running", "trap 'exit 0' TERM; sleep 300 & wait");
  rig.write_manifest(deployment({{m, good_module}}, 1));
  rig.start_agent();
  REQUIRE(eventually([&] { return rig.running(m); }));
  REQUIRE(rig.wait_status(200, 1));
  std::string id = rig.inspect(m)["Id"];

  auto desired = [&](Json modules) { return deployment(modules, 2); };
  Json many = Json::object();
  for (int i = 0; i < 500; ++i) many["m" + std::to_string(i)] = good_module;
  Json huge = good_module;
  huge["settings"]["createOptions"] =
      Json{{"Labels", {{"big", std::string(1024 * 1024, 'x')}}}}.dump();
  Json v2 = desired({{m, good_module}});
  v2["modulesContent"]["$edgeAgent"]["properties.desired"]["schemaVersion"] = "2.0";
  std::string dup = desired({{m, good_module}}).dump();
  std::string entry = "\"" + m + "\":" + good_module.dump();
  dup.replace(dup.find(entry), entry.size(), entry + "," + entry);

  struct Case {
    std::string what, text;
    int code;
    std::string says;
  };
  std::vector<Case> cases{
      {"invalid JSON", "{\"modulesContent\": {", 400, "not valid JSON"},
      {"unknown schema version", v2.dump(), 412, "schema version 2.0"},
      {"500 modules", desired(many).dump(), 400, "more than 100 modules"},
      {"a megabyte of createOptions", desired({{m, huge}}).dump(), 400,
       "createOptions larger than"},
      {"duplicate module names", dup, 400, "duplicate key"},
      {"a reserved name", desired({{"edgeHub", good_module}}).dump(), 400, "reserved"},
      {"an invalid name", desired({{"$bad", good_module}}).dump(), 400, "invalid module name"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    rig.write_text(c.text);
    REQUIRE(eventually(
        [&] {
          Json s = rig.status();
          return s.is_object() && s.value("code", 0) == c.code &&
                 s.value("description", "").find(c.says) != std::string::npos;
        },
        15));
    CHECK(rig.running(m));
    CHECK(rig.inspect(m)["Id"] == id);
  }
  // Nothing of the bad deployments reached the engine.
  CHECK_FALSE(rig.exists("m0"));
  // The device recovers with the next good manifest.
  rig.write_manifest(deployment({{m, good_module}}, 3));
  CHECK(rig.wait_status(200, 3));
  CHECK(rig.inspect(m)["Id"] == id);
}
