// The edge agent's container spec as upstream builds it, and $upstream resolution.
#include "edged/agent_spec.h"

#include <catch2/catch.hpp>

#include "common/config.h"

using namespace edged;

namespace {
Config config_from(const std::string& text) {
  auto table = edge::config::parse(text, "test.toml");
  REQUIRE(table);
  auto c = parse_config(*table);
  REQUIRE(c);
  return *c;
}

std::map<std::string, std::string> env_of(const Json& body) {
  std::map<std::string, std::string> env;
  for (const auto& e : body["Env"]) {
    std::string s = e;
    env[s.substr(0, s.find('='))] = s.substr(s.find('=') + 1);
  }
  return env;
}
}  // namespace

TEST_CASE("$upstream resolves to the parent and keeps the port", "[unit]") {
  CHECK(resolve_upstream("$upstream:443/azureiotedge-agent:1.5", "parent") ==
        "parent:443/azureiotedge-agent:1.5");
  CHECK(resolve_upstream("$upstream/agent:1", "10.0.0.4") == "10.0.0.4/agent:1");
  CHECK(resolve_upstream("mcr.microsoft.com/agent:$upstream", "p") ==
        "mcr.microsoft.com/agent:$upstream");
  AgentConfig a;
  a.image = "$upstream:443/agent:1.5";
  a.auth = docker::RegistryAuth{"u", "p", "$upstream:443"};
  resolve_agent_upstream(a, "my-parent");
  CHECK(a.image == "my-parent:443/agent:1.5");
  CHECK(a.auth->server == "my-parent:443");
}

TEST_CASE("the agent spec carries upstream's env binds network and labels", "[unit]") {
  Config c = config_from(R"(
hostname = "MyEdgeDevice"
[agent.config]
image = "example.io/agent:1"
createOptions = { HostConfig = { Binds = ["/data:/data"] }, Env = ["RuntimeLogLevel=warn"], Labels = { "net.azure-devices.edge.owner" = "me", custom = "x" } }
[agent.env]
RuntimeLogLevel = "debug"
IOTEDGE_DEVICEID = "spoofed"
https_proxy = "http://proxy:3128"
[moby_runtime]
uri = "unix:///var/run/docker.sock"
network = "edge-net"
)");
  DeviceInfo device{"dev1", "hub.example", "parent-gw"};
  ModuleSpec spec = agent_module_spec(c, device, "gen-123", "/var/lib/aziot/edged");
  Json body = create_body(spec);
  auto env = env_of(body);
  CHECK(env["EdgeDeviceHostName"] == "MyEdgeDevice");  // verbatim, not lower-cased
  CHECK(env["IOTEDGE_APIVERSION"] == "2022-08-03");
  CHECK(env["IOTEDGE_AUTHSCHEME"] == "sasToken");
  CHECK(env["IOTEDGE_DEVICEID"] == "dev1");  // edged's value wins over [agent.env]
  CHECK(env["IOTEDGE_IOTHUBHOSTNAME"] == "hub.example");
  CHECK(env["IOTEDGE_GATEWAYHOSTNAME"] == "parent-gw");
  CHECK(env["IOTEDGE_MODULEID"] == "$edgeAgent");
  CHECK(env["IOTEDGE_MODULEGENERATIONID"] == "gen-123");
  CHECK(env["IOTEDGE_WORKLOADURI"] == "unix:///var/run/iotedge/workload.sock");
  CHECK(env["IOTEDGE_MANAGEMENTURI"] == "unix:///var/run/iotedge/mgmt.sock");
  CHECK(env["IOTEDGE_WORKLOADLISTEN_MNTURI"] == "unix:///var/lib/aziot/edged/mnt");
  CHECK(env["Mode"] == "iotedged");
  CHECK(env["NetworkId"] == "edge-net");
  CHECK(env["https_proxy"] == "http://proxy:3128");
  CHECK(env["RuntimeLogLevel"] == "warn");  // createOptions' Env wins on a duplicate
  std::vector<std::string> keys;
  for (const auto& e : body["Env"])
    keys.push_back(e.get<std::string>().substr(0, e.get<std::string>().find('=')));
  CHECK(std::is_sorted(keys.begin(), keys.end()));

  CHECK(body["HostConfig"]["Binds"] ==
        Json::array({"/data:/data", "/var/run/iotedge/mgmt.sock:/var/run/iotedge/mgmt.sock",
                     "/var/lib/aziot/edged/mnt/edgeAgent.sock:/var/run/iotedge/workload.sock"}));
  CHECK(body["NetworkingConfig"]["EndpointsConfig"] == Json{{"edge-net", Json::object()}});
  const Json& labels = body["Labels"];
  CHECK(labels["net.azure-devices.edge.owner"] == "Microsoft.Azure.Devices.Edge.Agent");
  CHECK(labels["net.azure-devices.edge.create-options"] == "{}");
  CHECK(labels["net.azure-devices.edge.env"] == "{}");
  CHECK(labels["net.azure-devices.edge.original-image"] == "example.io/agent:1");
  CHECK(labels["custom"] == "x");
  CHECK(body["Image"] == "example.io/agent:1");
}

TEST_CASE("the agent spec without a parent and with tcp endpoints", "[unit]") {
  Config c = config_from(R"(
[connect]
management_uri = "fd://mgmt"
workload_uri = "unix:///run/wl.sock"
[agent.config]
image = "a:1"
createOptions = { NetworkingConfig = { EndpointsConfig = { custom = { Aliases = ["x"] } } } }
)");
  DeviceInfo device{"dev1", "Hub.Example", "hub.example"};
  Json body = create_body(agent_module_spec(c, device, "g", "/h"));
  auto env = env_of(body);
  CHECK_FALSE(env.contains("IOTEDGE_GATEWAYHOSTNAME"));  // gateway == hub, case-insensitively
  CHECK(body["HostConfig"]["Binds"] == Json::array({"/h/mnt/edgeAgent.sock:/run/wl.sock"}));
  CHECK(body["NetworkingConfig"]["EndpointsConfig"]["custom"]["Aliases"][0] == "x");
  CHECK(body["NetworkingConfig"]["EndpointsConfig"]["azure-iot-edge"] == Json::object());
  // The same bind is not added twice.
  c.agent.create_options =
      Json{{"HostConfig", {{"Binds", {"/h/mnt/edgeAgent.sock:/run/wl.sock"}}}}};
  CHECK(create_body(agent_module_spec(c, device, "g", "/h"))["HostConfig"]["Binds"].size() == 1);
}

TEST_CASE("modules lose elevated privileges when the config forbids them", "[unit]") {
  Json body{
      {"HostConfig", {{"Privileged", true}, {"CapAdd", {"NET_ADMIN"}}, {"CapDrop", {"MKNOD"}}}}};
  restrict_privileges(body);
  CHECK(body["HostConfig"]["Privileged"] == false);
  CHECK_FALSE(body["HostConfig"].contains("CapAdd"));
  CHECK(body["HostConfig"]["CapDrop"] == Json::array({"CHOWN", "SETUID", "MKNOD"}));
  Json plain = Json::object();
  restrict_privileges(plain);
  CHECK(plain["HostConfig"]["CapDrop"] == Json::array({"CHOWN", "SETUID"}));
  CHECK_FALSE(plain["HostConfig"].contains("Privileged"));
}

TEST_CASE("the provisioning state digest is upstream's bytes", "[unit]") {
  // base64(SHA-256('{"device_id":..,"gateway_host_name":..,"hub_name":..}')), serde_json's
  // compact form with sorted keys: a device upgraded from upstream keeps its modules.
  CHECK(provisioning_digest({"my-device", "example.azure-devices.net", "example.azure-devices.net"}) ==
        "5N78nFJvsUXpm/K8L5Vs0WvoFpNxRYIQbGEiyefy8JI=");
}
