// aziot-tpmd's config file (/etc/aziot/tpmd/config.toml + config.d), as `config apply` writes it:
//   max_requests = 10
//   tcti = "device"                      # tctildr string: "swtpm:host=127.0.0.1,port=2321", ...
//   auth_key_index = 0x100               # 0..0x7FFFFF, key persisted at 0x81000000 + index
//   [hierarchy_authorization]            # also accepted as upstream's newer [tpm_auth]
//   endorsement = "..."                  #   (endorsement, storage)
//   owner = "..."
//   [endpoints] aziot_tpmd = "unix:///run/aziot/tpmd.sock"
#pragma once
#include <cstdint>
#include <string>

#include "common/result.h"
#include "tpmd/esys.h"

namespace tpmd {

struct Config {
  size_t max_requests = 10;
  std::string tcti = "device";
  uint32_t auth_key_index = 0x100;
  tpm::HierarchyAuth auth;
  std::string endpoint = "unix:///run/aziot/tpmd.sock";
};

// Reads AZIOT_TPMD_CONFIG (default /etc/aziot/tpmd/config.toml) and AZIOT_TPMD_CONFIG_DIR
// (default /etc/aziot/tpmd/config.d).
edge::Result<Config> load_config();
edge::Result<Config> parse_config(const std::string& toml_text, const std::string& name);

}  // namespace tpmd
