// Turns a parsed super-config into the per-service configs, as upstream's `aziotctl config
// apply` (identity services only) and `iotedge config apply` (plus aziot-edged) do.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

#include "cli/super_config.h"
#include "cli/toml_out.h"
#include "common/result.h"

namespace edge::cli {

// The uids that get [[principal]] entries in keyd/certd/identityd configs.
struct PrincipalUids {
  uid_t aziotcs = 0;
  uid_t aziotid = 0;
  uid_t iotedge = 0;
};

struct ServiceConfigs {
  Table keyd, certd, identityd, tpmd;
  std::optional<Table> edged;                        // iotedge only
  std::optional<std::string> device_id_key;          // raw bytes for keyd's device-id file
  std::optional<std::string> master_encryption_key;  // raw bytes imported from IoT Edge 1.1
};

// `hostname` is used when the config sets none (the machine's hostname).
Result<ServiceConfigs> apply_aziot(const AziotConfig& config, const std::string& hostname,
                                   const PrincipalUids& uids);

// `root` prefixes the paths of files the config makes apply read (additional_info and the
// imported master encryption key); "" on a real system.
Result<ServiceConfigs> apply_edge(const EdgeConfig& config, const std::string& hostname,
                                  const PrincipalUids& uids, const std::string& root);

constexpr const char* kDeviceIdKeyPath = "/var/secrets/aziot/keyd/device-id";
constexpr const char* kImportedMasterKeyPath =
    "/var/secrets/aziot/keyd/imported-master-encryption-key";

}  // namespace edge::cli
