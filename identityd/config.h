// aziot-identityd's config file: upstream's keys (hostname, homedir, [provisioning],
// [[principal]], [localid], ...) plus [endpoints].
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"

namespace identityd {
using edge::Result;
using edge::Status;

enum class Source { Manual, Dps, None };
enum class AuthMethod { Sas, X509, SymmetricKey, Tpm };
enum class IdType { Device, Module, Local };
// Upstream IoT Edge's auto_reprovisioning_mode (edged's key; accepted here too, see docs).
enum class ReprovisionMode { Dynamic, AlwaysOnStartup, OnErrorOnly };

// A subject: either a plain CN string or a table of DN fields (CN, L, ST, O, OU, ...).
struct Subject {
  std::vector<std::pair<std::string, std::string>> fields;  // in file order, names upper-cased
  std::string common_name() const;
};

struct AutoRenew {
  bool rotate_key = true;
  std::string threshold = "80%";
  std::string retry = "4%";
};

struct Provisioning {
  Source source = Source::None;
  std::optional<std::string> local_gateway_hostname;
  AuthMethod method = AuthMethod::Sas;
  // manual
  std::string iothub_hostname;
  std::string device_id;
  std::string device_id_pk;  // keyd key id (manual sas)
  // x509 (manual or dps): certd cert id + keyd key pair id
  std::string identity_cert;
  std::string identity_pk;
  std::optional<Subject> csr_subject;  // manual x509
  std::optional<AutoRenew> identity_auto_renew;
  // dps
  std::string global_endpoint;
  std::string scope_id;
  std::optional<std::string> registration_id;
  std::optional<Subject> registration_subject;  // dps x509: registration_id given as a DN table
  std::string symmetric_key;                    // keyd key id (dps symmetric_key)
  std::optional<std::string> payload_uri;       // file:// URI of a JSON document
};

struct LocalIdOpts {
  std::string type = "x509";
  std::string attributes = "client";  // client | server
};

struct Principal {
  uid_t uid = 0;
  std::string name;
  std::optional<std::vector<IdType>> idtype;
  std::optional<LocalIdOpts> localid;
  bool has(IdType t) const;
};

struct Endpoints {
  std::string identityd = "unix:///run/aziot/identityd.sock";
  std::string keyd = "unix:///run/aziot/keyd.sock";
  std::string certd = "unix:///run/aziot/certd.sock";
  std::string tpmd = "unix:///run/aziot/tpmd.sock";
};

struct Config {
  std::string hostname;
  std::string homedir;
  bool prefer_module_identity_cache = false;
  size_t max_requests = 10;
  unsigned cloud_timeout_sec = 70;
  unsigned cloud_retries = 1;
  ReprovisionMode reprovision_mode = ReprovisionMode::Dynamic;
  Provisioning provisioning;
  std::vector<Principal> principals;
  std::optional<std::string> localid_domain;
  Endpoints endpoints;
  std::vector<std::string> warnings;  // unknown keys etc., logged by main
};

// Reads AZIOT_IDENTITYD_CONFIG (default /etc/aziot/identityd/config.toml) and
// AZIOT_IDENTITYD_CONFIG_DIR (default /etc/aziot/identityd/config.d).
Result<Config> load_config();
Result<Config> parse_config(const std::string& toml_text, const std::string& name);
Result<Config> parse_config_table(const toml::table& table);
// AZIOT_IDENTITYD_CONFIG / _DIR or the defaults.
edge::config::Paths config_paths();

// A stable digest of what provisioning depends on; a saved provisioning result is reused only
// while this is unchanged.
std::string provisioning_fingerprint(const Provisioning& p);

const char* to_string(Source s);
const char* to_string(AuthMethod m);

}  // namespace identityd
