#include <catch2/catch.hpp>

#include "agent/manifest.h"

using namespace agent;

namespace {
int code_of(const std::string& text) {
  auto doc = read_manifest(text);
  if (!doc) return doc.error().code;
  auto d = parse_deployment(doc->desired, "");
  return d ? 200 : d.error().code;
}
const char* kDesired =
    R"({"schemaVersion":"1.1","runtime":{"type":"docker","settings":{}},"modules":{)"
    R"("a":{"type":"docker","status":"running","settings":{"image":"x:1"}}},"$version":7})";
}  // namespace

TEST_CASE("manifests are read in their three shapes", "[unit]") {
  auto bare = read_manifest(kDesired);
  REQUIRE(bare);
  CHECK(bare->version == 7);
  CHECK(bare->desired["modules"].contains("a"));
  auto whole =
      read_manifest(std::string(R"({"modulesContent":{"$edgeAgent":{"properties.desired":)") +
                    kDesired + R"(},"$edgeHub":{"properties.desired":{}}}})");
  REQUIRE(whole);
  CHECK(whole->version == 7);
  auto local = read_manifest(std::string(R"({"version":12,"deploymentConfig":)") + kDesired + "}");
  REQUIRE(local);
  CHECK(local->version == 12);
  CHECK(code_of(kDesired) == 200);
}

TEST_CASE("hostile manifest text is rejected with 400 and a clear message", "[unit]") {
  CHECK(code_of("{not json") == 400);
  CHECK(code_of("") == 400);
  CHECK(code_of("[1,2]") == 400);
  CHECK(code_of(R"({"modulesContent":{"m":{}}})") == 400);
  // Duplicate keys: two modules of one name must not silently become one.
  std::string dup = R"({"schemaVersion":"1.1","runtime":{"type":"docker"},"modules":{)"
                    R"("a":{"type":"docker","status":"running","settings":{"image":"x:1"}},)"
                    R"("a":{"type":"docker","status":"stopped","settings":{"image":"y:1"}}}})";
  auto d = read_manifest(dup);
  REQUIRE_FALSE(d);
  CHECK(d.error().code == 400);
  CHECK_THAT(d.error().message, Catch::Contains("duplicate key \"a\""));
  // The same key in different objects is fine.
  CHECK(read_manifest(R"({"a":{"x":1},"b":{"x":2}})"));
  CHECK(code_of(std::string(100, '[') + std::string(100, ']')) == 400);
  CHECK(code_of(std::string(kMaxManifestBytes + 1, ' ')) == 400);
  // A megabyte of createOptions is over the limit even when the text is allowed.
  std::string big =
      std::string(
          R"({"schemaVersion":"1.1","runtime":{"type":"docker"},"modules":{"a":{"type":"docker",)") +
      R"("status":"running","settings":{"image":"x:1","createOptions":"{\"Labels\":{\"l\":\")" +
      std::string(1024 * 1024, 'x') + R"(\"}}"}}}})";
  auto huge = read_manifest(big);
  REQUIRE(huge);
  auto parsed = parse_deployment(huge->desired, "");
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().code == 400);
  CHECK_THAT(parsed.error().message, Catch::Contains("createOptions larger than"));
  // Unknown schema version: 412.
  std::string v2 = kDesired;
  v2.replace(v2.find("1.1"), 3, "2.0");
  CHECK(code_of(v2) == 412);
  CHECK(code_of(R"({"$version":3})") == 417);
}
