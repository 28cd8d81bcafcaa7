// The edge agent's container as upstream creates it: the [agent] settings plus the socket
// binds, the edge network, the reserved labels and the IOTEDGE_* environment.
#pragma once
#include <string>

#include "edged/config.h"
#include "edged/device_info.h"
#include "edged/module.h"

namespace edged {

constexpr char kUpstreamKeyword[] = "$upstream";
constexpr char kAgentApiVersion[] = "2022-08-03";

// A leading "$upstream" becomes `parent` ("$upstream:443/x" -> "<parent>:443/x").
std::string resolve_upstream(const std::string& text, const std::string& parent);
// Resolves the agent's image and registry server address.
void resolve_agent_upstream(AgentConfig& agent, const std::string& parent);

// The agent's ModuleSpec: createOptions with the management/workload socket binds (unix
// URIs only), the network endpoint and the net.azure-devices.edge.* labels; env = [agent.env] +
// NetworkId + the IOTEDGE_* variables (these win). `homedir` is the canonical home directory.
ModuleSpec agent_module_spec(const Config& config, const DeviceInfo& device,
                             const std::string& generation_id, const std::string& homedir);

// allow_elevated_docker_permissions = false: no Privileged, no CapAdd, CHOWN and SETUID dropped
// unless added explicitly (upstream's rule for every module).
void restrict_privileges(Json& create_body);

}  // namespace edged
