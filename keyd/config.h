// aziot-keyd's config file, exactly upstream's keys plus [endpoints].
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace keyd {

struct Principal {
  uid_t uid = 0;
  std::vector<std::string> keys;  // wildcards: * and ?
};

struct Config {
  size_t max_requests = 10;
  std::string homedir_path;
  std::optional<std::string> pkcs11_lib_path;
  std::optional<std::string> pkcs11_base_slot;
  std::optional<std::string> tpm_tcti;        // keys in a TPM (keyd/tpm_backend.h)
  std::optional<std::string> tpm_owner_auth;  // owner hierarchy password (to create the SRK)
  std::map<std::string, std::string> preloaded_keys;  // id -> file:// or pkcs11: URI
  std::vector<Principal> principals;
  std::string endpoint = "unix:///run/aziot/keyd.sock";
};

// Reads AZIOT_KEYD_CONFIG (default /etc/aziot/keyd/config.toml) and AZIOT_KEYD_CONFIG_DIR
// (default /etc/aziot/keyd/config.d).
edge::Result<Config> load_config();
edge::Result<Config> parse_config(const std::string& toml_text, const std::string& name);

// Is `uid` allowed to use key `id` by id? (uid 0 always is.)
bool authorized(const Config& config, uid_t uid, const std::string& id);

}  // namespace keyd
