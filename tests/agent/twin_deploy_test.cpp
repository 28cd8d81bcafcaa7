// The agent in its container, deployed from its `$edgeAgent` twin: a manifest pushed with
// Microsoft's azure-iothub SDK, modules started on the real engine through edged's management
// API, reported properties read back from the hub, desired patches, direct methods, bad
// manifests, MqttWs through an authenticating proxy, and the agent's PSS while connected.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <atomic>
#include <functional>
#include <thread>

#include "agent/upstream/sas.h"
#include "common/base64.h"
#include "common/http/server.h"
#include "edged/auth.h"
#include "edged/edge_ca.h"
#include "edged/management.h"
#include "edged/workload.h"
#include "tests/edged/workload_fixture.h"
#include "tests/agent/hub_fixture.h"
#include "tests/agent/own_modules.h"

using namespace edged;
using agent_test::HubEmulator;
using agent_test::Json;
using namespace std::chrono_literals;

namespace {
const std::string kImage = "edge-test-busybox:1";

template <class F>
bool eventually(F f, int seconds = 30) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

Json module(const std::string& status, const std::string& cmd, int order,
            Json env = Json::object()) {
  Json create{{"Cmd", {"/bin/sh", "-c", cmd}}};
  return Json{{"version", "1.0"},
              {"type", "docker"},
              {"status", status},
              {"restartPolicy", "always"},
              {"imagePullPolicy", "never"},
              {"startupOrder", order},
              {"settings", {{"image", kImage}, {"createOptions", create.dump()}}},
              {"env", env}};
}

Json manifest(Json modules, const std::string& schema = "1.1") {
  return Json{
      {"modulesContent",
       {{"$edgeAgent",
         {{"properties.desired",
           {{"schemaVersion", schema},
            {"runtime", {{"type", "docker"}, {"settings", {{"minDockerVersion", "v1.25"}}}}},
            {"systemModules", Json::object()},
            {"modules", modules}}}}},
        {"$edgeHub",
         {{"properties.desired", {{"schemaVersion", "1.1"}, {"routes", Json::object()}}}}}}}};
}

// edged's management API (in-process, real engine), the agent container, and its workload API:
// by default aziot-edged's own (edged::Workload over the real keyd, certd and identityd, with
// the hub emulator of that stack; the agent's SAS keys derived by identityd, the trust bundle
// from certd, callers checked by `docker top` of the agent container), or a stand-in that signs
// with the module key the hub knows (for the MqttWs test: that stack's emulator has no
// WebSockets).
enum class WorkloadKind { Edged, StandIn };

struct Rig {
  WorkloadKind kind;
  edge::test::TempDir trust_dir;
  std::string extra_trust;  // more roots in the trust bundle (the blob server's)
  std::unique_ptr<workload_test::Stack> stack;
  HubEmulator hub;
  edge::test::TempDir dir;
  std::string suffix = std::to_string(getpid());
  std::string device, agent = "agent-twin-" + suffix;
  std::string image = "iotedge-lite/edge-agent:twin-" + suffix;
  std::string key, gen = "gen1";
  docker::Client docker;
  std::vector<std::string> containers;
  Management mgmt{ManagementOptions{"/var/run/docker.sock", agent, "1.5.0", "agent-twin-test-" + suffix}};
  std::unique_ptr<edge::clients::KeydClient> keyd;
  std::unique_ptr<edged::CertdClient> certd;
  std::unique_ptr<edged::IdentitydClient> identityd;
  std::unique_ptr<edged::Workload> workload_api;
  std::unique_ptr<edge::http::Server> mgmt_server, workload_server;
  std::vector<std::thread> threads;

  static std::unique_ptr<workload_test::Stack> make_stack(WorkloadKind kind, const std::string& dir,
                                                          const std::string& extra) {
    if (kind != WorkloadKind::Edged) return nullptr;
    workload_test::StackOptions o;
    std::string bundle = "\"aziot-edged-ca\", \"trust-bundle-user\"";
    o.certd_extra =
        "[cert_issuance]\naziot-edged-ca = { method = \"self_signed\" }\n"
        "[preloaded_certs]\ntrust-bundle-user = \"file://{HUB_CA}\"\n";
    if (!extra.empty()) {
      edge::test::write_file(dir + "/extra.pem", extra);
      o.certd_extra += "extra-trust = \"file://" + dir + "/extra.pem\"\n";
      bundle += ", \"extra-trust\"";
    }
    o.certd_extra += "aziot-edged-trust-bundle = [" + bundle + "]\n";
    return std::make_unique<workload_test::Stack>(o);
  }
  static HubEmulator make_hub(const workload_test::Stack* stack,
                              const std::optional<HubEmulator::Named>& named) {
    if (stack) return HubEmulator(stack->emu.host, stack->emu.state);
    return named ? HubEmulator(*named) : HubEmulator();
  }

  explicit Rig(WorkloadKind k = WorkloadKind::Edged, std::string extra = "",
               std::optional<HubEmulator::Named> named_hub = std::nullopt)
      : kind(k),
        extra_trust(std::move(extra)),
        stack(make_stack(kind, trust_dir.path(), extra_trust)),
        hub(make_hub(stack.get(), named_hub)) {
    if (stack) {
      device = "dev1";  // the device the stack provisioned
      keyd = std::make_unique<edge::clients::KeydClient>(stack->keyd_socket);
      certd = std::make_unique<edged::CertdClient>(stack->certd_socket);
      identityd = std::make_unique<edged::IdentitydClient>(stack->identityd_socket);
      edged::EdgeCa ca({}, "dev1", *keyd, *certd);
      REQUIRE(ca.ensure());
      // edged makes sure the agent's identity exists (keys derived on the device) before it
      // starts the agent container; its generation id goes into the agent's environment.
      edge::http::UnixClient id_client(stack->identityd_socket);
      auto updated = edge::test::call(
          id_client, "PUT", "/identities/modules/$edgeAgent?api-version=2020-09-01&type=aziot",
          Json{{"type", "aziot"}, {"moduleId", "$edgeAgent"}});
      INFO(updated.body);
      REQUIRE(updated.status == 200);
      gen = updated.json["spec"]["genId"];
      workload_api = std::make_unique<edged::Workload>(
          edged::WorkloadOptions{stack->emu.host, "dev1"}, *keyd, *certd, *identityd,
          [this](const std::string& module, pid_t pid) -> edge::Status {
            if (module != "$edgeAgent")
              return edge::fail(edge::ErrorKind::Forbidden, "only the agent runs in this rig");
            return edged::authorize_caller(docker, agent, pid);  // a process of the container
          },
          [this]() -> edge::Result<Json> { return mgmt.list_modules(); });
    } else {
      device = "edge" + suffix;
      key = hub.create_edge_device(device);
    }
    std::string out;
    int rc =
        edge::test::run("EDGE_AGENT_BINARY=" + edge::test::bin("edge-agent") +
                            " " EDGE_SOURCE_DIR "/scripts/build-agent-image.sh " + image + " 2>&1",
                        &out);
    INFO(out);
    REQUIRE(rc == 0);
    mgmt_server = std::make_unique<edge::http::Server>(
        [this](edge::http::Request& r) { return management(r); }, edge::http::ServerOptions{});
    REQUIRE(mgmt_server->listen(*edge::uri::parse_endpoint("unix://" + dir / "mgmt.sock")));
    workload_server = std::make_unique<edge::http::Server>(
        [this](edge::http::Request& r) { return workload(r); }, edge::http::ServerOptions{});
    REQUIRE(workload_server->listen(*edge::uri::parse_endpoint("unix://" + dir / "workload.sock")));
    threads.emplace_back([this] { mgmt_server->run(); });
    threads.emplace_back([this] { workload_server->run(); });
  }
  ~Rig() {
    for (const auto& c : containers) (void)docker.remove_container(c, true);
    (void)docker.remove_container(agent, true);
    (void)docker.remove_image(image);
    mgmt_server->stop();
    workload_server->stop();
    for (auto& t : threads) t.join();
  }

  edge::http::Response management(edge::http::Request& r) {
    auto response = agent_test::only_own_modules(r, mgmt.handle(r), suffix);
    if (r.path == "/systeminfo/supportbundle") {
      bundle_status = response.status;
      if (auto* since = r.query_param("since")) bundle_since = *since;
    }
    return response;
  }
  std::atomic<int> bundle_status{0};  // edged's answer to the agent's support bundle request
  std::string bundle_since;
  std::atomic<bool> hub_ca_in_bundle{true};  // the stand-in's trust bundle names the hub's CA

  edge::http::Response workload(edge::http::Request& r) {
    if (workload_api) return workload_api->handle(r);
    if (r.method == "GET" && r.path == "/trust-bundle")
      return edge::http::Response::json(
          200, Json{{"certificate", (hub_ca_in_bundle ? hub.ca_pem() : "") + extra_trust}});
    if (r.method == "POST" && r.path == "/modules/$edgeAgent/genid/" + gen + "/sign") {
      Json body = Json::parse(r.body, nullptr, false);
      if (!body.is_object() || body.value("keyId", "") != "primary" ||
          body.value("algo", "") != "HMACSHA256")
        return edge::http::Response::error(400, "bad sign request");
      auto data = edge::base64::decode(body.value("data", ""));
      agent::upstream::KeySigner signer{edge::Secret(key)};
      auto digest = signer.sign(data ? *data : "");
      return edge::http::Response::json(200, Json{{"digest", *digest}});
    }
    return edge::http::Response::error(404, "not found");
  }

  // `host_config`: more HostConfig keys (NetworkMode, ExtraHosts) over the defaults.
  void start_agent(std::vector<std::string> extra_env = {}, const Json& host_config = {}) {
    std::vector<std::string> env = {"IOTEDGE_MANAGEMENTURI=unix:///edge/mgmt.sock",
                                    "IOTEDGE_WORKLOADURI=unix:///edge/workload.sock",
                                    "IOTEDGE_IOTHUBHOSTNAME=" + hub.hostname(),
                                    "IOTEDGE_DEVICEID=" + device,
                                    "IOTEDGE_MODULEID=$edgeAgent",
                                    "IOTEDGE_MODULEGENERATIONID=" + gen,
                                    "IOTEDGE_AUTHSCHEME=sasToken",
                                    "IOTEDGE_APIVERSION=2022-08-03",
                                    "StorageFolder=/edge/storage",
                                    "ReconcileIntervalSecs=1",
                                    "RequireModuleIdentities=false"};  // this rig's edged has no identityd
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    Json create{{"Image", image},
                {"Env", env},
                {"HostConfig", {{"Binds", {dir.path() + ":/edge"}}, {"NetworkMode", "host"}}}};
    if (host_config.is_object()) create["HostConfig"].update(host_config);
    REQUIRE(docker.create_container(agent, create));
    REQUIRE(docker.start(agent));
    // Connected and subscribed (the hub answers methods only after that).
    REQUIRE(eventually([&] {
      auto r = hub.call("GET", "/admin/devices/" + device);
      auto c =
          r.json.is_object() ? r.json["connections"].value(device + "/$edgeAgent", Json()) : Json();
      return c.is_object() && c.value("connected", false) && c["subscriptions"].size() >= 2;
    }));
  }

  std::string agent_log() {
    std::string text;
    (void)docker.logs(agent, {}, [&](const docker::LogFrame& f) {
      text += f.text;
      return true;
    });
    return text;
  }
  bool running(const std::string& n) {
    auto i = docker.inspect_container(n);
    return i && (*i)["State"].value("Running", false);
  }
  void deploy(const Json& m) {
    edge::test::write_file(dir / "manifest.json", m.dump());
    std::string out;
    int rc = hub.service_sdk(
        "deploy '" + hub.service_connection_string() + "' " + device + " " + dir / "manifest.json",
        &out);
    INFO(out);
    REQUIRE(rc == 0);
  }
  Json method(const std::string& name, const std::string& payload = "") {
    std::string out;
    int rc = hub.service_sdk("method '" + hub.service_connection_string() + "' " + device +
                                 " '$edgeAgent' " + name + " '" + payload + "'",
                             &out);
    INFO(out);
    REQUIRE(rc == 0);
    return Json::parse(out);
  }
  Json reported() { return hub.agent_twin(device)["properties"]["reported"]; }
  long long desired_version() {
    return hub.agent_twin(device)["properties"]["desired"]["$version"];
  }
};
}  // namespace

TEST_CASE("the agent deploys from its twin reports state and answers direct methods",
          "[docker][e2e]") {
  Rig rig;
  std::string a = "twina" + rig.suffix, b = "twinb" + rig.suffix;
  rig.containers = {a, b};
  rig.start_agent();
  INFO(rig.agent_log());
  rig.deploy(manifest(
      Json{{a, module("running", "trap 'exit 0' TERM; echo hello $GREETING; sleep 300 & wait", 1,
                      {{"GREETING", {{"value", "one"}}}})},
           {b, module("stopped", "sleep 300", 2)}}));
  REQUIRE(eventually([&] { return rig.running(a) && rig.docker.inspect_container(b); }));
  long long v1 = rig.desired_version();

  // Reported properties as upstream's agent writes them.
  Json rep;
  REQUIRE(eventually([&] {
    rep = rig.reported();
    return rep.value("lastDesiredVersion", -1LL) == v1 && rep["modules"].contains(a) &&
           rep["modules"][a].value("runtimeStatus", "") == "running";
  }));
  INFO(rep.dump(2));
  CHECK(rep["schemaVersion"] == "1.0");
  CHECK(rep["version"]["version"] == EDGE_VERSION);
  CHECK(rep["lastDesiredStatus"] == Json{{"code", 200}, {"description", ""}});
  CHECK(rep["runtime"]["type"] == "docker");
  CHECK(rep["runtime"]["platform"]["os"] == "linux");
  CHECK_FALSE(rep["runtime"]["platform"]["architecture"].get<std::string>().empty());
  CHECK(rep["runtime"]["settings"]["minDockerVersion"] == "v1.25");
  const Json& ma = rep["modules"][a];
  for (const char* k :
       {"version", "type", "status", "restartPolicy", "imagePullPolicy", "startupOrder",
        "runtimeStatus", "exitCode", "statusDescription", "lastStartTimeUtc", "lastExitTimeUtc",
        "restartCount", "lastRestartTimeUtc", "settings", "env"})
    CHECK(ma.contains(k));
  CHECK(ma["status"] == "running");
  CHECK(ma["restartPolicy"] == "always");
  CHECK(ma["startupOrder"] == 1);
  CHECK(ma["restartCount"] == 0);
  CHECK(ma["settings"]["image"] == kImage);
  CHECK(ma["settings"]["imageHash"].get<std::string>().starts_with("sha256:"));
  CHECK(Json::parse(ma["settings"]["createOptions"].get<std::string>())["Cmd"][2]
            .get<std::string>()
            .starts_with("trap"));
  CHECK(ma["env"]["GREETING"]["value"] == "one");
  CHECK(ma["lastStartTimeUtc"].get<std::string>().starts_with("20"));
  CHECK(rep["modules"][b]["runtimeStatus"] == "stopped");
  CHECK(rep["modules"][b]["status"] == "stopped");

  // Direct methods with upstream's payloads and codes.
  CHECK(rig.method("ping") == Json{{"status", 200}, {"payload", nullptr}});
  std::string started = (*rig.docker.inspect_container(a))["State"]["StartedAt"];
  CHECK(rig.method("RestartModule", Json{{"schemaVersion", "1.0"}, {"id", a}}.dump()) ==
        Json{{"status", 200}, {"payload", nullptr}});
  CHECK((*rig.docker.inspect_container(a))["State"]["StartedAt"] != started);
  Json missing =
      rig.method("RestartModule", Json{{"schemaVersion", "1.0"}, {"id", "nosuchmodule"}}.dump());
  INFO(missing.dump());
  CHECK(missing["status"] == 500);
  REQUIRE(missing["payload"].is_object());
  CHECK(missing["payload"]["message"] ==
        "Module nosuchmodule not found in the current environment");
  CHECK(rig.method("RestartModule", Json{{"schemaVersion", "2.0"}, {"id", a}}.dump())["status"] ==
        500);
  CHECK(rig.method("RestartModule", "")["status"] == 400);
  Json unknown = rig.method("Reboot");
  INFO(unknown.dump());
  CHECK(unknown["status"] == 400);
  REQUIRE(unknown["payload"].is_object());
  CHECK_THAT(unknown["payload"]["message"].get<std::string>(),
             Catch::StartsWith("Command 'Reboot' not found."));
  CHECK(
      rig.method("gettaskstatus", Json{{"schemaVersion", "1.0"}, {"correlationId", "c1"}}.dump()) ==
      Json{{"status", 200},
           {"payload", {{"status", "Unknown"}, {"message", ""}, {"correlationId", "c1"}}}});
  Json logs = rig.method(
      "GetModuleLogs",
      Json{{"schemaVersion", "1.0"}, {"items", {{"id", "^twina"}, {"filter", {{"tail", 10}}}}}}
          .dump());
  REQUIRE(logs["status"] == 200);
  REQUIRE(logs["payload"].size() == 1);
  CHECK(logs["payload"][0]["id"] == a);
  CHECK_THAT(logs["payload"][0]["payload"].get<std::string>(), Catch::Contains("hello one"));
  // gzip: upstream answers "payloadBytes", the base64 of the gzipped text or JSON.
  Json zipped = rig.method("GetModuleLogs", Json{{"schemaVersion", "1.0"},
                                                 {"items", {{"id", "^twina"}}},
                                                 {"encoding", "gzip"},
                                                 {"contentType", "text"}}
                                                .dump());
  INFO(zipped.dump());
  REQUIRE(zipped["status"] == 200);
  REQUIRE(zipped["payload"].size() == 1);
  CHECK_FALSE(zipped["payload"][0].contains("payload"));
  auto packed = edge::base64::decode(zipped["payload"][0]["payloadBytes"].get<std::string>());
  REQUIRE(packed);
  auto text = agent_test::gunzip(*packed);
  REQUIRE(text);
  CHECK_THAT(*text, Catch::Contains("hello one"));
  Json zipped_json = rig.method("GetModuleLogs", Json{{"schemaVersion", "1.0"},
                                                      {"items", {{"id", a}}},
                                                      {"encoding", "GZIP"},
                                                      {"contentType", "json"}}
                                                     .dump());
  REQUIRE(zipped_json["status"] == 200);
  packed = edge::base64::decode(zipped_json["payload"][0]["payloadBytes"].get<std::string>());
  REQUIRE(packed);
  text = agent_test::gunzip(*packed);
  REQUIRE(text);
  Json messages = Json::parse(*text, nullptr, false);
  REQUIRE(messages.is_array());
  REQUIRE_FALSE(messages.empty());
  CHECK(messages[0]["id"] == a);
  CHECK(messages[0]["device"] == rig.device);
  CHECK(messages[0]["stream"] == "stdout");
  CHECK(messages[0]["text"] == "hello one");
  CHECK(messages[0]["timestamp"].get<std::string>().starts_with("20"));
  Json bad_encoding = rig.method(
      "GetModuleLogs",
      Json{{"schemaVersion", "1.0"}, {"items", {{"id", a}}}, {"encoding", "brotli"}}.dump());
  CHECK(bad_encoding["status"] == 400);

  // A desired change: a's env changes (recreated), b is removed (reported as gone).
  std::string before = (*rig.docker.inspect_container(a))["Id"];
  rig.deploy(manifest(
      Json{{a, module("running", "trap 'exit 0' TERM; echo hello $GREETING; sleep 300 & wait", 1,
                      {{"GREETING", {{"value", "two"}}}})}}));
  REQUIRE(eventually([&] {
    auto i = rig.docker.inspect_container(a);
    return i && (*i)["Id"] != before && (*i)["State"].value("Running", false) &&
           !rig.docker.inspect_container(b);
  }));
  long long v2 = rig.desired_version();
  CHECK(v2 > v1);
  REQUIRE(eventually([&] {
    rep = rig.reported();
    return rep.value("lastDesiredVersion", -1LL) == v2 && !rep["modules"].contains(b) &&
           rep["modules"][a]["env"]["GREETING"]["value"] == "two";
  }));

  // Bad manifests: reported with upstream's codes; the running module is left alone.
  std::string id = (*rig.docker.inspect_container(a))["Id"];
  struct Bad {
    Json manifest;
    int code;
  };
  Json wrong_shape = manifest(Json::object());
  wrong_shape["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"] = "not an object";
  for (const auto& bad : {Bad{manifest(Json{{a, module("running", "sleep 1", 1)}}, "2.0"), 412},
                          Bad{wrong_shape, 400}}) {
    rig.deploy(bad.manifest);
    REQUIRE(eventually([&] {
      rep = rig.reported();
      return rep["lastDesiredStatus"].value("code", 0) == bad.code;
    }));
    CHECK(rep["lastDesiredVersion"] == v2);  // the deployment last applied
    CHECK_FALSE(rep["lastDesiredStatus"]["description"].get<std::string>().empty());
    CHECK(rig.running(a));
    CHECK((*rig.docker.inspect_container(a))["Id"] == id);
  }

  // The agent's footprint while connected and idle.
  auto info = rig.docker.inspect_container(rig.agent);
  long long pid = (*info)["State"]["Pid"];
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(smaps, line))
    if (line.starts_with("Pss")) WARN("edge agent while connected: " + line);
  if (std::getenv("AGENT_SMAPS")) {
    std::string out;
    edge::test::run(
        "awk '/^[0-9a-f]+-/{name=$6} /^Pss:/{pss[name]+=$2} END{for(n in pss) if (pss[n]>50) print "
        "pss[n], n}' /proc/" +
            std::to_string(pid) + "/smaps | sort -rn",
        &out);
    WARN(out);
  }

  // SIGTERM: "Agent is not running" reported before the agent exits.
  REQUIRE(rig.docker.stop(rig.agent, 10));
  rep = rig.reported();
  CHECK(rep["lastDesiredStatus"]["code"] == 406);
  CHECK(rep["modules"][a]["runtimeStatus"] == "unknown");
}

TEST_CASE("the agent connects over MqttWs through an authenticating proxy", "[docker][e2e]") {
  Rig rig(WorkloadKind::StandIn);
  agent_test::Tinyproxy proxy("agent", "pr0xy");
  std::string a = "twinws" + rig.suffix;
  rig.containers = {a};
  rig.start_agent({"UpstreamProtocol=AmqpWs", "https_proxy=" + proxy.url("agent:pr0xy")});
  INFO(rig.agent_log());
  CHECK_THAT(rig.agent_log(), Catch::Contains("using MqttWs instead"));
  CHECK_THAT(rig.agent_log(), Catch::Contains("over MqttWs through proxy"));
  CHECK_THAT(rig.agent_log(), !Catch::Contains("pr0xy"));
  CHECK_THAT(proxy.log(), Catch::Contains("CONNECT"));
  rig.deploy(manifest(Json{{a, module("running", "sleep 300", 1)}}));
  REQUIRE(eventually([&] { return rig.running(a); }));
  CHECK(eventually([&] { return rig.reported()["modules"].contains(a); }));
  CHECK(rig.method("ping")["status"] == 200);
}

namespace {
// Polls GetTaskStatus until the task leaves Running.
Json task_outcome(Rig& rig, const std::string& id, int seconds = 60) {
  Json st;
  eventually(
      [&] {
        st = rig.method("GetTaskStatus", Json{{"schemaVersion", "1.0"}, {"correlationId", id}}.dump());
        return st["status"] == 200 && st["payload"]["status"] != "Running";
      },
      seconds);
  return st["payload"];
}

Json upload(Rig& rig, const std::string& sas, const std::string& module, const std::string& type,
            const std::string& encoding) {
  Json r = rig.method("UploadModuleLogs", Json{{"schemaVersion", "1.0"},
                                               {"sasUrl", sas},
                                               {"items", {{"id", module}}},
                                               {"encoding", encoding},
                                               {"contentType", type}}
                                              .dump());
  INFO(r.dump());
  REQUIRE(r["status"] == 200);
  CHECK(r["payload"]["status"] == "Running");
  CHECK(r["payload"]["message"] == "");
  CHECK(r["payload"]["correlationId"].get<std::string>().size() == 36);
  return r["payload"];
}
}  // namespace

TEST_CASE("the agent uploads module logs and the support bundle to a blob container",
          "[docker][e2e]") {
  agent_test::BlobServer blob;
  Rig rig(WorkloadKind::Edged, blob.cert_pem());
  std::string a = "twinlog" + rig.suffix;
  rig.containers = {a};
  rig.start_agent();
  INFO(rig.agent_log());
  rig.deploy(manifest(Json{{a, module("running",
                                      "for i in $(seq 1 250); do echo line $i; done; sleep 1; "
                                      "echo '<3> something failed' >&2; sleep 300",
                                      1)}}));
  REQUIRE(eventually([&] { return rig.running(a); }));
  std::string prefix = rig.hub.address() + "/" + rig.device;
  REQUIRE(eventually([&] {
    return rig.agent_log().size() > 0 && rig.docker.inspect_container(a) &&
           rig.method("GetModuleLogs", Json{{"schemaVersion", "1.0"}, {"items", {{"id", a}}}}.dump())
                   ["payload"][0]["payload"]
                       .get<std::string>()
                       .find("something failed") != std::string::npos;
  }));

  // Text: an append blob grown 100 lines at a time.
  Json started = upload(rig, blob.sas_url(), a, "text", "none");
  Json done = task_outcome(rig, started["correlationId"]);
  INFO(done.dump() << "\n" << blob.log());
  REQUIRE(done["status"] == "Completed");
  CHECK(done["correlationId"] == started["correlationId"]);
  auto names = blob.blobs(prefix);
  REQUIRE(names.size() == 1);
  CHECK_THAT(names[0], Catch::StartsWith(prefix + "/" + a + "-20") && Catch::EndsWith(".log"));
  std::string text = blob.read(names[0]);
  CHECK_THAT(text, Catch::StartsWith("line 1\n") && Catch::EndsWith("line 250\n<3> something failed\n"));
  CHECK(blob.blocks(names[0]) == 3);  // 251 lines
  CHECK(blob.headers(names[0])["x-ms-blob-type"] == "AppendBlob");
  CHECK(blob.headers(names[0])["x-ms-blob-content-type"] == "text/plain");

  // Text, gzip: every block its own gzip member; JSON, gzip: one block blob.
  std::this_thread::sleep_for(1100ms);  // blob names carry the second
  done = task_outcome(rig, upload(rig, blob.sas_url(), a, "text", "gzip")["correlationId"]);
  REQUIRE(done["status"] == "Completed");
  std::this_thread::sleep_for(1100ms);
  done = task_outcome(rig, upload(rig, blob.sas_url(), a, "json", "gzip")["correlationId"]);
  REQUIRE(done["status"] == "Completed");
  names = blob.blobs(prefix);
  REQUIRE(names.size() == 3);
  std::string log_gz, json_gz;
  for (const auto& n : names) {
    if (n.ends_with(".log.gz")) log_gz = n;
    if (n.ends_with(".json.gz")) json_gz = n;
  }
  REQUIRE_FALSE(log_gz.empty());
  REQUIRE_FALSE(json_gz.empty());
  auto unpacked = agent_test::gunzip(blob.read(log_gz));
  REQUIRE(unpacked);
  CHECK(*unpacked == text);
  CHECK(blob.headers(log_gz)["x-ms-blob-content-encoding"] == "gzip");
  CHECK(blob.headers(json_gz)["x-ms-blob-type"] == "BlockBlob");
  CHECK(blob.headers(json_gz)["x-ms-blob-content-type"] == "application/json");
  unpacked = agent_test::gunzip(blob.read(json_gz));
  REQUIRE(unpacked);
  Json messages = Json::parse(*unpacked, nullptr, false);
  REQUIRE(messages.is_array());
  REQUIRE(messages.size() == 251);
  CHECK(messages[0]["text"] == "line 1");
  Json failure;  // stdout and stderr lines are ordered by their timestamps
  for (const auto& m : messages)
    if (m["text"] == "something failed") failure = m;
  REQUIRE(failure.is_object());
  CHECK(failure["loglevel"] == 3);
  CHECK(failure["stream"] == "stderr");
  CHECK(failure["iothub"] == rig.hub.address());
  CHECK(messages[0]["loglevel"] == 6);

  // Failures: a task that fails says why (never the SAS signature); payload errors are 400.
  done = task_outcome(rig, upload(rig, blob.sas_url("logs", "wrong"), a, "text", "none")["correlationId"]);
  CHECK(done["status"] == "Failed");
  CHECK_THAT(done["message"].get<std::string>(),
             Catch::StartsWith("Task upload logs failed because of error") &&
                 Catch::Contains("403 AuthenticationFailed") && !Catch::Contains("wrong"));
  done = task_outcome(rig, upload(rig, blob.sas_url("other"), a, "json", "none")["correlationId"]);
  CHECK(done["status"] == "Failed");
  CHECK_THAT(done["message"].get<std::string>(), Catch::Contains("404 ContainerNotFound"));
  done = task_outcome(rig, upload(rig, "ftp://example/logs", a, "text", "none")["correlationId"]);
  CHECK(done["status"] == "Failed");
  CHECK_THAT(done["message"].get<std::string>(), Catch::Contains("invalid sasUrl"));
  CHECK(rig.method("UploadModuleLogs", Json{{"schemaVersion", "1.0"}, {"items", {{"id", a}}}}.dump())
            ["status"] == 400);
  CHECK(rig.method("UploadModuleLogs", Json{{"schemaVersion", "1.0"},
                                            {"sasUrl", blob.sas_url()},
                                            {"items", {{"id", a}}},
                                            {"contentType", "xml"}}
                                           .dump())["status"] == 400);
  Json unknown =
      rig.method("GetTaskStatus", Json{{"schemaVersion", "1.0"}, {"correlationId", "nope"}}.dump());
  CHECK(unknown["payload"] == Json{{"status", "Unknown"}, {"message", ""}, {"correlationId", "nope"}});
  CHECK(blob.blobs(prefix).size() == 3);

  // The support bundle comes from edged's GET /systeminfo/supportbundle.
  CHECK(rig.method("UploadSupportBundle", Json{{"schemaVersion", "1.0"}}.dump())["status"] == 400);
  Json bundle = rig.method("UploadSupportBundle",
                           Json{{"schemaVersion", "1.0"}, {"sasUrl", blob.sas_url()}, {"since", "1h"},
                                {"edgeRuntimeOnly", true}}
                               .dump());
  INFO(bundle.dump());
  REQUIRE(bundle["status"] == 200);
  CHECK(bundle["payload"]["status"] == "Running");
  // edged runs `iotedge check` for the bundle (up to 2 minutes).
  done = task_outcome(rig, bundle["payload"]["correlationId"], 200);
  CHECK(rig.bundle_since == "1h");
  REQUIRE(rig.bundle_status == 200);
  REQUIRE(done["status"] == "Completed");
  auto zips = blob.blobs(prefix);
  std::erase_if(zips, [](const std::string& n) { return !n.ends_with(".zip"); });
  REQUIRE(zips.size() == 1);
  CHECK_THAT(zips[0], Catch::Contains("/support-bundle-20"));
  CHECK(blob.read(zips[0]).starts_with("PK"));
}

// The agent is one static binary: host names resolve through glibc's built-in files and dns
// lookups, with no NSS module in its image. Here the hub's name (in its certificate too) comes
// from the container's /etc/hosts (ExtraHosts), then from the embedded DNS of a user-defined
// network, where it is the name of a relay container in front of the hub.
TEST_CASE("the agent reaches the hub by host name from its container", "[docker][e2e]") {
  std::string suffix = std::to_string(getpid());
  auto connected = [](Rig& rig, const std::string& name) {
    rig.reported();  // the twin is there
    INFO(rig.agent_log());
    CHECK_THAT(rig.agent_log(), Catch::Contains("Connected to " + name + " over Mqtt"));
    CHECK_THAT(rig.agent_log(), !Catch::Contains("could not resolve"));
  };
  SECTION("a name from ExtraHosts") {
    std::string name = "hub-" + suffix + ".test", ip = agent_test::random_loopback();
    Rig rig(WorkloadKind::StandIn, "", HubEmulator::Named{name, ip});
    rig.start_agent({}, Json{{"ExtraHosts", {name + ":" + ip}}});
    connected(rig, name);
  }
  SECTION("a name from a user-defined network's DNS") {
    docker::Client docker;
    std::string net = "agent-dns-" + suffix, relay = "agent-hubrelay-" + suffix;
    struct Cleanup {
      docker::Client& d;
      std::string relay, net;
      ~Cleanup() {
        (void)d.remove_container(relay, true);
        (void)d.remove_network(net);
      }
    } cleanup{docker, relay, net};  // after the rig's agent container is gone
    REQUIRE(docker.create_network(Json{{"Name", net}}));
    auto info = docker.inspect_network(net);
    REQUIRE(info);
    std::string gateway = (*info)["IPAM"]["Config"][0]["Gateway"];
    // The relay hands each connection on its port 8883 to the hub on the network's gateway.
    REQUIRE(docker.create_container(
        relay, Json{{"Image", "edge-test-busybox:1"},
                    {"Cmd", {"nc", "-ll", "-p", "8883", "-e", "nc", gateway, "8883"}},
                    {"HostConfig", {{"NetworkMode", net}}}}));
    REQUIRE(docker.start(relay));
    Rig rig(WorkloadKind::StandIn, "", HubEmulator::Named{relay, gateway});
    rig.start_agent({}, Json{{"NetworkMode", net}});
    connected(rig, relay);
  }
}

// A hub the trust bundle does not vouch for (as the real IoT Hub, under a public root): the
// agent reads the system roots for that handshake only, and its footprint stays that of an
// agent trusting its bundle.
TEST_CASE("the agent trusts the hub through the system roots when its bundle lacks the hub's CA",
          "[docker][e2e]") {
  Rig rig(WorkloadKind::StandIn, "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
  rig.hub_ca_in_bundle = false;
  // The image's roots and the hub's CA, hashed as c_rehash names them.
  std::string roots = rig.dir / "roots", out;
  int rc = edge::test::run(
      "set -e; mkdir -p " + roots + "; for c in /etc/ssl/certs/*.[0-9]; do cp -L \"$c\" " + roots +
          "/; done; cp " + rig.hub.ca_file() + " " + roots +
          "/$(openssl x509 -hash -noout -in " + rig.hub.ca_file() + ").9 2>&1",
      &out);
  INFO(out);
  REQUIRE(rc == 0);
  rig.start_agent({"SSL_CERT_DIR=/edge/roots"});
  INFO(rig.agent_log());
  CHECK_THAT(rig.agent_log(), Catch::Contains("Connected to " + rig.hub.hostname()));
  CHECK(rig.reported().is_object());
  long long pid = (*rig.docker.inspect_container(rig.agent))["State"]["Pid"];
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(smaps, line);)
    if (line.starts_with("Pss:") || line.starts_with("Pss_Anon:"))
      WARN("edge agent connected through the system roots: " + line);
}
