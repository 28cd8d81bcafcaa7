// The ModuleSpec the agent sends to edged (POST/PUT /modules, prepareupdate): the module's
// settings, registry credentials for its image, and the environment, socket binds and
// network upstream's agent adds to every module (notes §2.7, §2.8).
#pragma once
#include <string>

#include "agent/manifest.h"

namespace agent {

// What edged gave the agent in its environment; empty values are not passed on.
struct AgentEnvironment {
  std::string device_id;                   // IOTEDGE_DEVICEID
  std::string iothub_hostname;             // IOTEDGE_IOTHUBHOSTNAME
  std::string edge_device_hostname;        // EdgeDeviceHostName
  std::string parent_hostname;             // IOTEDGE_GATEWAYHOSTNAME of the agent (nested edge)
  std::string workload_uri;                // IOTEDGE_WORKLOADURI
  std::string workload_listen_mnt_uri;     // IOTEDGE_WORKLOADLISTEN_MNTURI
  std::string management_uri;              // IOTEDGE_MANAGEMENTURI
  std::string network_id;                  // NetworkId
  std::string api_version = "2022-08-03";  // IOTEDGE_APIVERSION
  std::string runtime_log_level;           // RuntimeLogLevel
  std::string upstream_protocol;           // UpstreamProtocol
  static AgentEnvironment from_env();
};

// `generation_id` is the module identity's (empty when edged has no identity service).
Json module_spec(const Module& m, const Deployment& d, const AgentEnvironment& env,
                 const std::string& generation_id);
// "$edgeAgent" / "$edgeHub" for the system modules, the name otherwise.
std::string module_identity(const std::string& name);

}  // namespace agent
