// What edged needs from aziot-identityd at start-up (api-version 2020-09-01): the device
// identity, the edge agent's generation id, reprovisioning; and upstream's
// <homedir>/cache/provisioning_state digest that tells whether the device changed.
#pragma once
#include <string>

#include "common/result.h"

namespace edged {

struct DeviceInfo {
  std::string device_id;
  std::string hub_name;
  std::string gateway_host;  // the parent in a nested hierarchy, else the hub
};

class IdentityClient {
 public:
  explicit IdentityClient(std::string socket_path) : socket_(std::move(socket_path)) {}
  // Unavailable when identityd does not answer; other kinds are identityd's own errors.
  edge::Result<DeviceInfo> device();
  // PUT /identities/modules/$edgeAgent: the agent's module identity's generation id.
  edge::Result<std::string> update_agent_identity();
  // GET of the same identity (identityd's cached copy when the hub is unreachable).
  edge::Result<std::string> agent_generation_id();
  edge::Status reprovision();

 private:
  std::string socket_;
};

// base64(SHA-256 of {"device_id","gateway_host_name","hub_name"} as compact JSON), as upstream.
std::string provisioning_digest(const DeviceInfo& device);

}  // namespace edged
