#include "edged/agent_spec.h"

#include <algorithm>
#include <map>

#include "common/uri.h"

namespace edged {

std::string resolve_upstream(const std::string& text, const std::string& parent) {
  if (!text.starts_with(kUpstreamKeyword)) return text;
  return parent + text.substr(sizeof kUpstreamKeyword - 1);
}

void resolve_agent_upstream(AgentConfig& agent, const std::string& parent) {
  agent.image = resolve_upstream(agent.image, parent);
  if (agent.auth) agent.auth->server = resolve_upstream(agent.auth->server, parent);
}

namespace {
std::string unix_path(const std::string& uri) {
  auto e = edge::uri::parse_endpoint(uri);
  return e && e->kind == edge::uri::Endpoint::Kind::Unix && uri.starts_with("unix://") ? e->value
                                                                                       : "";
}
}  // namespace

ModuleSpec agent_module_spec(const Config& config, const DeviceInfo& device,
                             const std::string& generation_id, const std::string& homedir) {
  const AgentConfig& a = config.agent;
  ModuleSpec spec;
  spec.name = a.name;
  spec.image = a.image;
  spec.pull_policy = a.pull_policy;
  spec.auth = a.auth;
  Json create = a.create_options.is_object() ? a.create_options : Json::object();

  // Sockets: the management socket at its own path, the agent's workload socket at the
  // workload connect path.
  Json& host = create["HostConfig"];
  if (!host.is_object()) host = Json::object();
  Json& binds = host["Binds"];
  if (!binds.is_array()) binds = Json::array();
  std::string mgmt = unix_path(config.connect_management_uri);
  std::string workload = unix_path(config.connect_workload_uri);
  std::vector<std::string> wanted;
  if (!mgmt.empty()) wanted.push_back(mgmt + ":" + mgmt);
  if (!workload.empty()) wanted.push_back(homedir + "/mnt/" + a.name + ".sock:" + workload);
  for (const auto& b : wanted)
    if (std::find(binds.begin(), binds.end(), b) == binds.end()) binds.push_back(b);

  Json& networking = create["NetworkingConfig"];
  if (!networking.is_object()) networking = Json::object();
  Json& endpoints = networking["EndpointsConfig"];
  if (!endpoints.is_object()) endpoints = Json::object();
  if (!endpoints.contains(config.network.name)) endpoints[config.network.name] = Json::object();

  // The net.azure-devices.edge prefix is reserved: user labels with it are overwritten.
  Json& labels = create["Labels"];
  if (!labels.is_object()) labels = Json::object();
  labels["net.azure-devices.edge.create-options"] = "{}";
  labels["net.azure-devices.edge.env"] = "{}";
  labels[kOriginalImageLabel] = a.image;
  labels[kOwnerLabel] = kOwner;
  spec.create_options = create;

  std::map<std::string, std::string> env(a.env.begin(), a.env.end());
  env["NetworkId"] = config.network.name;
  env["EdgeDeviceHostName"] = config.hostname;
  env["IOTEDGE_APIVERSION"] = kAgentApiVersion;
  env["IOTEDGE_AUTHSCHEME"] = "sasToken";
  env["IOTEDGE_DEVICEID"] = device.device_id;
  env["IOTEDGE_IOTHUBHOSTNAME"] = device.hub_name;
  std::string gateway = device.gateway_host, hub = device.hub_name;
  std::transform(gateway.begin(), gateway.end(), gateway.begin(), ::tolower);
  std::transform(hub.begin(), hub.end(), hub.begin(), ::tolower);
  if (gateway != hub) env["IOTEDGE_GATEWAYHOSTNAME"] = device.gateway_host;
  env["IOTEDGE_MODULEID"] = "$edgeAgent";
  env["IOTEDGE_MODULEGENERATIONID"] = generation_id;
  env["IOTEDGE_WORKLOADURI"] = config.connect_workload_uri;
  env["IOTEDGE_MANAGEMENTURI"] = config.connect_management_uri;
  env["IOTEDGE_WORKLOADLISTEN_MNTURI"] = "unix://" + homedir + "/mnt";
  env["Mode"] = "iotedged";
  spec.env.assign(env.begin(), env.end());
  return spec;
}

void restrict_privileges(Json& body) {
  Json& host = body["HostConfig"];
  if (!host.is_object()) host = Json::object();
  bool privileged = host.value("Privileged", false);
  bool cap_add = host.contains("CapAdd") && host["CapAdd"].is_array() && !host["CapAdd"].empty();
  if (privileged || cap_add) {
    host["Privileged"] = false;
    host.erase("CapAdd");
  }
  Json drop = Json::array({"CHOWN", "SETUID"});
  if (host.contains("CapDrop") && host["CapDrop"].is_array())
    for (const auto& c : host["CapDrop"]) drop.push_back(c);
  host["CapDrop"] = drop;
}

}  // namespace edged
