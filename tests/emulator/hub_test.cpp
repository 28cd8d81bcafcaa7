#include "emulator/hub.h"

#include <catch2/catch.hpp>

#include "emulator/sas.h"
#include "tests/support/harness.h"

using namespace emulator;

static const char kKey[] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

static Hub make_hub() {
  HubConfig c;
  c.hostname = "hub.test";
  return Hub(c);
}

static Json sas_device(const char* id) {
  return Json{{"deviceId", id},
              {"authentication", {{"type", "sas"}, {"symmetricKey", {{"primaryKey", kKey}}}}}};
}

TEST_CASE("REST callers are identified by their SAS token") {
  Hub hub = make_hub();
  REQUIRE(hub.put_device("edge1", sas_device("edge1"), ""));
  auto caller = hub.authenticate_rest(make_sas("hub.test/devices/edge1", kKey, 4102444800));
  REQUIRE(caller);
  CHECK(caller->kind == Caller::Kind::Device);
  CHECK(caller->device_id == "edge1");
  CHECK_FALSE(hub.authenticate_rest(make_sas("hub.test/devices/edge1", kKey, 1000)));
  CHECK_FALSE(hub.authenticate_rest(make_sas("hub.test/devices/nobody", kKey, 4102444800)));
}

TEST_CASE("MQTT CONNECT checks user name, client id and token") {
  Hub hub = make_hub();
  REQUIRE(hub.put_device("dev1", sas_device("dev1"), ""));
  REQUIRE(hub.put_module(
      "dev1", "mod1",
      Json{{"authentication", {{"type", "sas"}, {"symmetricKey", {{"primaryKey", kKey}}}}}}, ""));
  REQUIRE(hub.put_module("dev1", "mod2", Json::object(), ""));
  std::string user = "hub.test/dev1/?api-version=2021-04-12";
  CHECK(hub.authenticate_mqtt("dev1", user, make_sas("hub.test/devices/dev1", kKey, 4102444800),
                              nullptr));
  CHECK_FALSE(hub.authenticate_mqtt("dev2", user,
                                    make_sas("hub.test/devices/dev1", kKey, 4102444800), nullptr));
  std::string mod_token = make_sas("hub.test/devices/dev1/modules/mod1", kKey, 4102444800);
  CHECK(
      hub.authenticate_mqtt("dev1/mod1", "hub.test/dev1/mod1/?api-version=x", mod_token, nullptr));
  // mod1's token must not open mod2, even if the keys happened to match.
  CHECK_FALSE(
      hub.authenticate_mqtt("dev1/mod2", "hub.test/dev1/mod2/?api-version=x", mod_token, nullptr));
}

TEST_CASE("twin patches merge, bump versions and respect the 32 KB limit") {
  Hub hub = make_hub();
  REQUIRE(hub.put_device("dev1", sas_device("dev1"), ""));
  auto t = hub.update_twin(
      "dev1", "", Json::parse(R"({"properties":{"desired":{"a":1,"b":{"c":2}}}})"), "", false);
  REQUIRE(t);
  CHECK((*t)["properties"]["desired"]["$version"] == 2);
  t = hub.update_twin("dev1", "", Json::parse(R"({"properties":{"desired":{"b":{"c":null}}}})"),
                      "*", false);
  REQUIRE(t);
  CHECK((*t)["properties"]["desired"]["b"] == Json::object());
  Json big = {{"properties", {{"desired", {{"blob", std::string(33 * 1024, 'x')}}}}}};
  auto refused = hub.update_twin("dev1", "", big, "", false);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == edge::ErrorKind::PayloadTooLarge);
}

TEST_CASE("MQTT twin requests are answered to the requesting client only") {
  Hub hub = make_hub();
  REQUIRE(hub.put_device("dev1", sas_device("dev1"), ""));
  hub.client_connected("dev1");
  CHECK(hub.on_publish("dev1", "$iothub/twin/PATCH/properties/reported/?$rid=7", R"({"x":1})") ==
        PublishOutcome::Consumed);
  CHECK(hub.on_publish("dev1", "$iothub/twin/GET/?$rid=8", " ") == PublishOutcome::Consumed);
  auto out = hub.take_outbox();
  REQUIRE(out.size() == 2);
  CHECK(out[0].topic == "$iothub/twin/res/204/?$rid=7&$version=2");
  CHECK(out[1].client_id == "dev1");
  CHECK(Json::parse(out[1].payload)["reported"]["x"] == 1);
  CHECK(hub.on_publish("dev1", "$iothub/unknown", "") == PublishOutcome::Disconnect);
  CHECK(hub.on_publish("dev1", "devices/dev2/messages/events/", "hi") ==
        PublishOutcome::Disconnect);
  std::string big = R"({"blob":")" + std::string(33 * 1024, 'x') + "\"}";
  hub.on_publish("dev1", "$iothub/twin/PATCH/properties/reported/?$rid=9", big);
  out = hub.take_outbox();
  REQUIRE(out.size() == 1);
  CHECK(out[0].topic.starts_with("$iothub/twin/res/413/"));
}

TEST_CASE("an edge device created by the admin API authenticates REST calls with its own key") {
  Hub hub = make_hub();
  auto created = hub.admin_create_device(Json{{"deviceId", "edge1"}, {"edge", true}});
  REQUIRE(created);
  std::string key = (*created)["device"]["authentication"]["symmetricKey"]["primaryKey"];
  auto caller = hub.authenticate_rest(make_sas("hub.test/devices/edge1", key, 4102444800));
  INFO((caller ? std::string("ok") : caller.error().message));
  CHECK(caller);
}

TEST_CASE("a replaced desired document reaches the device as a merge patch with removals") {
  Hub hub = make_hub();
  REQUIRE(hub.put_device("dev1", sas_device("dev1"), ""));
  REQUIRE(hub.update_twin(
      "dev1", "",
      Json::parse(R"({"properties":{"desired":{"modules":{"a":{"v":1},"b":{"v":2}},"x":1}}})"), "",
      true));
  hub.client_connected("dev1");
  hub.client_subscribed("dev1", "$iothub/twin/PATCH/properties/desired/#");
  REQUIRE(hub.update_twin(
      "dev1", "",
      Json::parse(R"({"properties":{"desired":{"modules":{"a":{"v":1},"c":{"v":3}}}}})"), "",
      true));
  auto out = hub.take_outbox();
  REQUIRE(out.size() == 1);
  CHECK(out[0].topic == "$iothub/twin/PATCH/properties/desired/?$version=3");
  CHECK(Json::parse(out[0].payload) ==
        Json::parse(R"({"modules":{"b":null,"c":{"v":3}},"x":null,"$version":3})"));
}

TEST_CASE("telemetry survives a restart") {
  edge::test::TempDir dir;
  HubConfig c;
  c.hostname = "hub.test";
  c.state_dir = dir.path();
  {
    Hub hub(c);
    REQUIRE(hub.load());
    REQUIRE(hub.put_device("dev1", sas_device("dev1"), ""));
    hub.client_connected("dev1");
    CHECK(hub.on_publish("dev1", "devices/dev1/messages/events/k=v", "hello") ==
          PublishOutcome::Consumed);
  }
  Hub again(c);
  REQUIRE(again.load());
  Json kept = again.telemetry("dev1", "");
  REQUIRE(kept.size() == 1);
  CHECK(kept[0]["body"] == "hello");
  CHECK(kept[0]["properties"]["k"] == "v");
}
