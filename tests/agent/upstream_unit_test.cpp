// Pure parts of the agent's cloud side: desired-patch ordering, reported diffs, reported
// shape, createOptions chunking, SAS tokens, UpstreamProtocol, method payload errors.
#include <catch2/catch.hpp>
#include <cstdlib>

#include "agent/upstream/hub_connection.h"
#include "agent/upstream/methods.h"
#include "agent/upstream/reported.h"
#include "agent/upstream/sas.h"
#include "common/base64.h"
#include "common/crypto.h"

using namespace agent::upstream;

TEST_CASE("desired patches apply in version order and gaps ask for a full twin", "[unit]") {
  DesiredState d;
  CHECK(d.apply(Json{{"$version", 2}}) == DesiredState::Patch::Gap);  // nothing yet
  d.set(Json{{"$version", 3},
             {"schemaVersion", "1.1"},
             {"modules", {{"a", {{"x", 1}}}, {"b", {{"x", 2}}}}}});
  CHECK(d.apply(Json{{"$version", 4}, {"modules", {{"a", nullptr}, {"c", {{"x", 3}}}}}}) ==
        DesiredState::Patch::Applied);
  CHECK(d.version() == 4);
  CHECK_FALSE(d.document()->at("modules").contains("a"));
  CHECK(d.document()->at("modules")["c"]["x"] == 3);
  CHECK(d.apply(Json{{"$version", 4}, {"modules", nullptr}}) == DesiredState::Patch::Stale);
  CHECK(d.document()->contains("modules"));
  CHECK(d.apply(Json{{"$version", 6}}) == DesiredState::Patch::Gap);
  CHECK(d.apply(Json{{"schemaVersion", "2.0"}}) == DesiredState::Patch::Gap);  // no version
  CHECK(d.version() == 4);
}

TEST_CASE("reported diffs hold only changes and null removed keys", "[unit]") {
  Json from{{"lastDesiredVersion", 1},
            {"modules",
             {{"a", {{"runtimeStatus", "running"}, {"exitCode", 0}}},
              {"b", {{"runtimeStatus", "stopped"}}}}}};
  Json to{{"lastDesiredVersion", 2},
          {"modules", {{"a", {{"runtimeStatus", "failed"}, {"exitCode", 0}}}}}};
  CHECK(diff(from, to) ==
        Json{{"lastDesiredVersion", 2},
             {"modules", {{"a", {{"runtimeStatus", "failed"}}}, {"b", nullptr}}}});
  CHECK(diff(to, to).empty());
  CHECK(known_reported(Json{
            {"$version", 4}, {"lastDesiredVersion", 2}, {"custom", 1}, {"modules", nullptr}}) ==
        Json{{"lastDesiredVersion", 2}});
}

TEST_CASE("createOptions are reported in 512-character chunks", "[unit]") {
  Json big{{"Labels", {{"k", std::string(1200, 'x')}}}};
  Json chunks = chunk_create_options(big);
  REQUIRE(chunks.size() == 3);
  CHECK(chunks["createOptions"].get<std::string>().size() == 512);
  CHECK(chunks["createOptions01"].get<std::string>().size() == 512);
  CHECK(chunks["createOptions"].get<std::string>() + chunks["createOptions01"].get<std::string>() +
            chunks["createOptions02"].get<std::string>() ==
        big.dump());
  CHECK(chunk_create_options(Json::object()) == Json{{"createOptions", "{}"}});
}

TEST_CASE("reported properties have upstream's shape and never carry registry passwords",
          "[unit]") {
  agent::Module m;
  m.name = "sensor";
  m.version = "1.0";
  m.image = "reg.example/sensor:1";
  m.env = {{"K", "V"}};
  ModuleReport r;
  r.name = "sensor";
  r.config = m;
  r.runtime_status = "backoff";
  r.exit_code = 1;
  r.restart_count = 3;
  ModuleReport hub = r;
  hub.name = "edgeHub";
  ModuleReport agent_entry = r;
  agent_entry.name = "edgeAgent";
  Json settings{{"registryCredentials",
                 {{"r", {{"address", "reg.example"}, {"username", "u"}, {"password", "secret"}}}}}};
  Json rep = build_reported({r, hub, agent_entry}, Platform{"linux", "x86_64", "1.5.0"}, settings,
                            7, {200, ""});
  CHECK(rep["schemaVersion"] == "1.0");
  CHECK(rep["lastDesiredVersion"] == 7);
  CHECK(rep["runtime"]["platform"] ==
        Json{{"os", "linux"}, {"architecture", "x86_64"}, {"version", "1.5.0"}});
  CHECK(rep["runtime"]["settings"]["registryCredentials"]["r"] ==
        Json{{"address", "reg.example"}, {"username", "u"}});
  CHECK(rep.dump().find("secret") == std::string::npos);
  const Json& s = rep["modules"]["sensor"];
  CHECK(s["runtimeStatus"] == "backoff");
  CHECK(s["restartCount"] == 3);
  CHECK(s["startupOrder"] == 4294967295u);
  CHECK(s["lastExitTimeUtc"] == kMinTime);
  CHECK(s["env"] == Json{{"K", {{"value", "V"}}}});
  const Json& a = rep["systemModules"]["edgeAgent"];
  for (const char* k : {"version", "status", "restartPolicy", "restartCount", "lastRestartTimeUtc"})
    CHECK_FALSE(a.contains(k));
  CHECK(a["startupOrder"] == 0);
  CHECK_FALSE(rep["systemModules"]["edgeHub"].contains("version"));
  CHECK(rep["systemModules"]["edgeHub"].contains("restartCount"));
}

TEST_CASE("SAS tokens are signed over the encoded resource and expiry", "[unit]") {
  std::string key = edge::base64::encode("0123456789abcdef0123456789abcdef");
  KeySigner signer{edge::Secret(key)};
  auto token = make_sas_token(signer, "hub.example/devices/d1/modules/$edgeAgent", 1700000000);
  REQUIRE(token);
  std::string sr = "hub.example%2Fdevices%2Fd1%2Fmodules%2F%24edgeAgent";
  auto mac = edge::crypto::hmac_sha256("0123456789abcdef0123456789abcdef", sr + "\n1700000000");
  REQUIRE(mac);
  std::string sig = edge::base64::encode(*mac);
  std::string encoded;
  for (char c : sig)
    encoded += c == '+' ? "%2B" : c == '/' ? "%2F" : c == '=' ? "%3D" : std::string(1, c);
  CHECK(token->view() == "SharedAccessSignature sr=" + sr + "&sig=" + encoded + "&se=1700000000");
  KeySigner bad{edge::Secret("not base64!")};
  CHECK_FALSE(make_sas_token(bad, "x", 1));
}

TEST_CASE("UpstreamProtocol maps Amqp to the MQTT equivalents", "[unit]") {
  bool mapped = false;
  CHECK(*parse_protocol("", mapped) == Protocol::Mqtt);
  CHECK(*parse_protocol("mqttws", mapped) == Protocol::MqttWs);
  CHECK_FALSE(mapped);
  CHECK(*parse_protocol("Amqp", mapped) == Protocol::Mqtt);
  CHECK(mapped);
  CHECK(*parse_protocol("AmqpWs", mapped) == Protocol::MqttWs);
  CHECK_FALSE(parse_protocol("Http", mapped));
}

TEST_CASE("twin and method topics are parsed strictly", "[unit]") {
  int status = 0;
  std::string query;
  REQUIRE(parse_response_topic("$iothub/twin/res/204/?$rid=a1&$version=5", "$iothub/twin/res/",
                               status, query));
  CHECK(status == 204);
  CHECK(query_value(query, "$rid") == "a1");
  CHECK(query_value(query, "$version") == "5");
  CHECK(query_value(query, "$ri") == "");
  CHECK_FALSE(
      parse_response_topic("$iothub/twin/res/abc/?$rid=1", "$iothub/twin/res/", status, query));
  CHECK_FALSE(parse_response_topic("$iothub/twin/res/200", "$iothub/twin/res/", status, query));
}

TEST_CASE("direct methods answer bad payloads with upstream's codes", "[unit]") {
  Methods methods("/nonexistent/mgmt.sock", "hub", "dev");
  CHECK(methods.handle("PING", "").status == 200);
  CHECK_FALSE(methods.handle("ping", "{}").payload);
  auto unknown = methods.handle("Reboot", "{}");
  CHECK(unknown.status == 400);
  CHECK(unknown.payload->at("message") ==
        "Command 'Reboot' not found. The supported commands are - "
        "ping,RestartModule,GetModuleLogs,UploadModuleLogs,UploadSupportBundle,"
                                       "GetTaskStatus");
  CHECK(methods.handle("RestartModule", "null").status == 400);
  CHECK(methods.handle("RestartModule", "{not json").status == 400);
  CHECK(methods.handle("RestartModule", R"({"id":"a"})").status == 400);
  CHECK(methods.handle("RestartModule", R"({"schemaVersion":"1.0"})").status == 400);
  auto major = methods.handle("RestartModule", R"({"schemaVersion":"2.0","id":"a"})");
  CHECK(major.status == 500);
  CHECK(major.payload->at("message") ==
        "The restart module request schema version 2.0 is not compatible with the expected version "
        "1.0");
  CHECK(methods.handle("RestartModule", R"({"schemaVersion":"x","id":"a"})").status == 500);
  // edged unreachable: a 500 with a message, not a crash.
  auto down = methods.handle("RestartModule", R"({"schemaVersion":"1.0","id":"a"})");
  CHECK(down.status == 500);
  CHECK(down.payload->contains("message"));
  CHECK(methods.handle("GetModuleLogs", R"({"schemaVersion":"1.0","items":[{"filter":{}}]})")
            .status == 400);
  CHECK(methods
            .handle("GetModuleLogs",
                    R"({"schemaVersion":"1.0","items":[{"id":"a"}],"encoding":"zip"})")
            .status == 400);
  CHECK(methods.handle("GetTaskStatus", R"({"schemaVersion":"1.0"})").status == 400);
}

TEST_CASE("docker log frames are split and garbage does not crash", "[unit]") {
  std::string raw = std::string("\x01\0\0\0\0\0\0\x06", 8) + "hello\n" +
                    std::string("\x02\0\0\0\0\0\0\x04", 8) + "err\n";
  auto frames = split_log_frames(raw);
  REQUIRE(frames.size() == 2);
  CHECK(frames[0] == std::pair<int, std::string>{1, "hello\n"});
  CHECK(frames[1] == std::pair<int, std::string>{2, "err\n"});
  CHECK(split_log_frames(std::string("\x01\0\0\0\xff\xff\xff\xff", 8) + "x").size() ==
        1);  // truncated: kept raw
  CHECK(split_log_frames("").empty());
}

TEST_CASE("the upstream settings come from edged's environment", "[unit]") {
  auto set = [](const char* k, const char* v) { v ? setenv(k, v, 1) : unsetenv(k); };
  set("IOTEDGE_IOTHUBHOSTNAME", "hub.example");
  set("IOTEDGE_GATEWAYHOSTNAME", "parent.example");
  set("IOTEDGE_DEVICEID", "child1");
  set("IOTEDGE_MODULEID", "$edgeAgent");
  set("IOTEDGE_MODULEGENERATIONID", "gen7");
  set("IOTEDGE_WORKLOADURI", "unix:///var/run/iotedge/workload.sock");
  set("IOTEDGE_AUTHSCHEME", "SasToken");
  set("UpstreamProtocol", "AmqpWs");
  set("https_proxy", "http://u:p@proxy.example:3128");
  std::string notes;
  auto s = settings_from_env(notes);
  REQUIRE(s);
  CHECK(s->connect_host() == "parent.example");  // nested: the parent's edgeHub
  CHECK(s->resource() ==
        "hub.example/devices/child1/modules/$edgeAgent");  // audience stays the hub
  CHECK(s->workload_socket == "/var/run/iotedge/workload.sock");
  CHECK(s->protocol == Protocol::MqttWs);
  REQUIRE(s->proxy);
  CHECK(s->proxy->host == "proxy.example");
  CHECK_THAT(notes, Catch::Contains("AmqpWs"));
  set("UpstreamProtocol", "Mqtt");
  CHECK_FALSE(settings_from_env(notes)->proxy);  // the proxy is for WebSockets only, as upstream
  set("IOTEDGE_AUTHSCHEME", "x509");
  CHECK_FALSE(settings_from_env(notes));
  set("IOTEDGE_AUTHSCHEME", "sasToken");
  set("IOTEDGE_DEVICEID", nullptr);
  auto missing = settings_from_env(notes);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("IOTEDGE_DEVICEID"));
  for (const char* k : {"IOTEDGE_IOTHUBHOSTNAME", "IOTEDGE_GATEWAYHOSTNAME", "IOTEDGE_MODULEID",
                        "IOTEDGE_MODULEGENERATIONID", "IOTEDGE_WORKLOADURI", "IOTEDGE_AUTHSCHEME",
                        "UpstreamProtocol", "https_proxy"})
    unsetenv(k);
}
