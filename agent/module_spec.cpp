#include "agent/module_spec.h"

#include <strings.h>

#include <cstdlib>

namespace agent {

namespace {
std::string env_value(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string unix_path(const std::string& uri) {
  return uri.starts_with("unix://") ? uri.substr(7) : "";
}

// The registry an image comes from, as upstream decides which credentials apply.
std::string registry_host(const std::string& image) {
  auto slash = image.find('/');
  if (slash == std::string::npos) return "";
  std::string first = image.substr(0, slash);
  if (first.find_first_of(".:") != std::string::npos || first == "localhost") return first;
  return "https://index.docker.io/v1/";
}
}  // namespace

AgentEnvironment AgentEnvironment::from_env() {
  AgentEnvironment e;
  e.device_id = env_value("IOTEDGE_DEVICEID");
  e.iothub_hostname = env_value("IOTEDGE_IOTHUBHOSTNAME");
  e.edge_device_hostname = env_value("EdgeDeviceHostName");
  e.parent_hostname = env_value("IOTEDGE_GATEWAYHOSTNAME");
  e.workload_uri = env_value("IOTEDGE_WORKLOADURI");
  e.workload_listen_mnt_uri = env_value("IOTEDGE_WORKLOADLISTEN_MNTURI");
  e.management_uri = env_value("IOTEDGE_MANAGEMENTURI");
  e.network_id = env_value("NetworkId");
  if (auto v = env_value("IOTEDGE_APIVERSION"); !v.empty() && v < e.api_version) e.api_version = v;
  e.runtime_log_level = env_value("RuntimeLogLevel");
  e.upstream_protocol = env_value("UpstreamProtocol");
  return e;
}

std::string module_identity(const std::string& name) {
  return name == "edgeAgent" || name == "edgeHub" ? "$" + name : name;
}

Json module_spec(const Module& m, const Deployment& d, const AgentEnvironment& e,
                 const std::string& generation_id) {
  bool system = m.name == "edgeAgent" || m.name == "edgeHub";
  Json env = Json::array();
  auto put = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) env.push_back({{"key", k}, {"value", v}});
  };
  for (const auto& [k, v] : m.env) env.push_back({{"key", k}, {"value", v}});
  put("IOTEDGE_WORKLOADURI", e.workload_uri);
  put("IOTEDGE_AUTHSCHEME", "sasToken");
  put("IOTEDGE_MODULEGENERATIONID", generation_id);
  put("IOTEDGE_IOTHUBHOSTNAME", e.iothub_hostname);
  if (system) {
    put("EdgeDeviceHostName", e.edge_device_hostname);
    put("IOTEDGE_GATEWAYHOSTNAME", e.parent_hostname);
  } else {
    put("IOTEDGE_GATEWAYHOSTNAME", e.edge_device_hostname);
    put("IOTEDGE_PARENTHOSTNAME", e.parent_hostname);
  }
  put("IOTEDGE_DEVICEID", e.device_id);
  put("IOTEDGE_MODULEID", module_identity(m.name));
  if (!m.env.count("RuntimeLogLevel")) put("RuntimeLogLevel", e.runtime_log_level);
  if (!m.env.count("UpstreamProtocol")) put("UpstreamProtocol", e.upstream_protocol);
  if (m.name == "edgeAgent") {
    put("IOTEDGE_MANAGEMENTURI", e.management_uri);
    put("NetworkId", e.network_id);
    put("IOTEDGE_WORKLOADLISTEN_MNTURI", e.workload_listen_mnt_uri);
    put("Mode", "iotedged");
  }
  put("IOTEDGE_APIVERSION", e.api_version);

  Json options = m.create_options;
  auto bind = [&](const std::string& listen, const std::string& connect) {
    if (listen.empty() || connect.empty()) return;
    Json& binds = options["HostConfig"]["Binds"];
    if (!binds.is_array()) binds = Json::array();
    binds.push_back(listen + ":" + connect);
  };
  if (std::string workload = unix_path(e.workload_uri); !workload.empty()) {
    std::string mnt = unix_path(e.workload_listen_mnt_uri);
    bind(mnt.empty() ? workload : mnt + "/" + m.name + ".sock", workload);
  }
  if (m.name == "edgeAgent") {
    std::string mgmt = unix_path(e.management_uri);
    bind(mgmt, mgmt);
  }
  if (!e.network_id.empty() && !(options.contains("NetworkingConfig") &&
                                 options["NetworkingConfig"].contains("EndpointsConfig"))) {
    Json endpoint = Json::object();
    if (m.name == "edgeHub" && !e.edge_device_hostname.empty())
      endpoint["Aliases"] = {e.edge_device_hostname};
    options["NetworkingConfig"]["EndpointsConfig"][e.network_id] = endpoint;
  }

  Json settings{{"image", m.image}, {"createOptions", options}};
  if (!m.digest.empty()) settings["digest"] = m.digest;
  std::string host = registry_host(m.image);
  for (const auto& [name, c] : d.registry_credentials)
    if (!host.empty() && strcasecmp(c.address.c_str(), host.c_str()) == 0) {
      settings["auth"] = {
          {"username", c.username}, {"password", c.password}, {"serveraddress", c.address}};
      break;
    }
  return Json{{"name", m.name},
              {"type", "docker"},
              {"imagePullPolicy", m.pull_on_create ? "On-Create" : "Never"},
              {"config", {{"settings", settings}, {"env", env}}}};
}

}  // namespace agent
