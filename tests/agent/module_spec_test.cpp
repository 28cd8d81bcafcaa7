#include "agent/module_spec.h"

#include <catch2/catch.hpp>

using namespace agent;

namespace {
std::map<std::string, std::string> env_of(const Json& spec) {
  std::map<std::string, std::string> out;
  for (const auto& e : spec["config"]["env"]) out[e["key"]] = e["value"];
  return out;
}
AgentEnvironment device() {
  AgentEnvironment e;
  e.device_id = "dev1";
  e.iothub_hostname = "hub.example.test";
  e.edge_device_hostname = "edge.local";
  e.workload_uri = "unix:///var/run/iotedge/workload.sock";
  e.workload_listen_mnt_uri = "unix:///var/lib/aziot/edged/mnt";
  e.management_uri = "unix:///var/run/iotedge/mgmt.sock";
  e.network_id = "azure-iot-edge";
  e.runtime_log_level = "info";
  return e;
}
}  // namespace

TEST_CASE("module specs carry upstream's injected environment binds and network", "[unit]") {
  Module m;
  m.name = "sensor";
  m.image = "reg.example.test:5000/sensor:1";
  m.env = {{"RuntimeLogLevel", "debug"}};
  Deployment d;
  d.registry_credentials["r"] = {"reg.example.test:5000", "user", "pass"};
  Json spec = module_spec(m, d, device(), "gen-7");
  auto env = env_of(spec);
  CHECK(env["IOTEDGE_MODULEGENERATIONID"] == "gen-7");
  CHECK(env["IOTEDGE_MODULEID"] == "sensor");
  CHECK(env["IOTEDGE_GATEWAYHOSTNAME"] == "edge.local");  // a module talks to its edgeHub
  CHECK(env["IOTEDGE_AUTHSCHEME"] == "sasToken");
  CHECK(env["RuntimeLogLevel"] == "debug");  // the module's own value wins
  CHECK(env.count("IOTEDGE_MANAGEMENTURI") == 0);
  CHECK(spec["config"]["settings"]["auth"]["username"] == "user");
  const Json& opts = spec["config"]["settings"]["createOptions"];
  CHECK(opts["HostConfig"]["Binds"][0] ==
        "/var/lib/aziot/edged/mnt/sensor.sock:/var/run/iotedge/workload.sock");
  CHECK(opts["NetworkingConfig"]["EndpointsConfig"].contains("azure-iot-edge"));
  CHECK(spec["imagePullPolicy"] == "On-Create");

  Module hub = m;
  hub.name = "edgeHub";
  hub.image = "docker.io/other/hub:1";
  hub.pull_on_create = false;
  auto parent = device();
  parent.parent_hostname = "parent.local";
  Json hub_spec = module_spec(hub, d, parent, "g");
  auto hub_env = env_of(hub_spec);
  CHECK(hub_env["IOTEDGE_MODULEID"] == "$edgeHub");
  CHECK(hub_env["IOTEDGE_GATEWAYHOSTNAME"] == "parent.local");
  CHECK(hub_env["EdgeDeviceHostName"] == "edge.local");
  CHECK_FALSE(hub_spec["config"]["settings"].contains("auth"));  // another registry
  CHECK(hub_spec["config"]["settings"]["createOptions"]["NetworkingConfig"]["EndpointsConfig"]
                ["azure-iot-edge"]["Aliases"][0] == "edge.local");
  CHECK(hub_spec["imagePullPolicy"] == "Never");

  // Without identity service or network (a plain local deployment) nothing empty is added.
  Json bare = module_spec(m, Deployment{}, AgentEnvironment{}, "");
  auto bare_env = env_of(bare);
  CHECK(bare_env.count("IOTEDGE_MODULEGENERATIONID") == 0);
  CHECK(bare_env.count("IOTEDGE_WORKLOADURI") == 0);
  CHECK_FALSE(bare["config"]["settings"]["createOptions"].contains("NetworkingConfig"));
  // A network named in createOptions is kept.
  m.create_options = Json::parse(R"({"NetworkingConfig":{"EndpointsConfig":{"host":{}}}})");
  Json own = module_spec(m, d, device(), "g");
  CHECK(own["config"]["settings"]["createOptions"]["NetworkingConfig"]["EndpointsConfig"].size() ==
        1);
}
