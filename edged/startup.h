// edged's start-up steps on the container engine, in upstream's order: the module network,
// stopping stale modules, and removing every module when the device identity changed.
#pragma once
#include <string>

#include "edged/config.h"
#include "edged/device_info.h"
#include "edged/docker.h"

namespace edged {

// Creates the network unless one with exactly that name exists:
// {"Name", "EnableIPv6", "IPAM":{"Config":[{"Gateway","Subnet","IPRange"}]}}.
edge::Status ensure_network(docker::Client& docker, const NetworkConfig& network);
// Every module container (module_filter()); errors are collected, not fatal per container.
edge::Status stop_all_modules(docker::Client& docker, int timeout_seconds);
edge::Status remove_all_modules(docker::Client& docker);
// Compares provisioning_digest(device) with <cache_dir>/provisioning_state; when different,
// removes every module and saves the new digest. Returns whether it changed.
edge::Result<bool> apply_provisioning_change(docker::Client& docker, const std::string& cache_dir,
                                             const DeviceInfo& device);

}  // namespace edged
