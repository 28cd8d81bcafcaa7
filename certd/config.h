// aziot-certd's config file, exactly upstream's keys plus [endpoints].
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/config.h"
#include "common/result.h"
#include "common/secret.h"

namespace certd {

using edge::Result;

constexpr size_t kMaxCommonNameChars = 64;   // X.509 ub-common-name
constexpr int64_t kMaxExpiryDays = 1000000;  // keeps notAfter well inside GeneralizedTime

enum class Method { SelfSigned, LocalCa, Est };

// EST settings are parsed and checked so upstream configs load; issuing through EST is not
// implemented yet.
struct EstAuth {
  std::optional<std::string> username;
  std::optional<edge::Secret> password;  // never logged
  std::optional<std::string> identity_cert, identity_pk;
  std::optional<std::string> bootstrap_identity_cert, bootstrap_identity_pk;
};

// [cert_issuance.<cert id>]
struct IssuanceOptions {
  Method method = Method::SelfSigned;
  std::optional<int64_t> expiry_days;
  // common_name = "x" becomes {{"CN", "x"}}; CN values are truncated to 64 characters.
  std::optional<std::vector<std::pair<std::string, std::string>>> subject;
  std::optional<std::string> est_url;
  EstAuth est_auth;
};

struct CertWithKey {
  std::string cert;  // cert id
  std::string pk;    // keyd key pair id
};

struct Est {
  std::vector<std::string> trusted_certs;
  EstAuth auth;
  bool rotate_key = true;
  std::string threshold = "80%", retry = "4%";
  std::map<std::string, std::string> urls;
};

struct CertIssuance {
  std::optional<CertWithKey> local_ca;
  std::optional<Est> est;
  std::map<std::string, IssuanceOptions> certs;
};

// A preloaded entry: a file path (from a file:// URI) or a bundle of other ids.
using Preloaded = std::variant<std::string, std::vector<std::string>>;

struct Principal {
  uid_t uid = 0;
  std::vector<std::string> certs;  // wildcards: * and ?
};

struct Config {
  std::string homedir_path;
  size_t max_requests = 10;
  CertIssuance cert_issuance;
  std::map<std::string, Preloaded> preloaded_certs;
  std::vector<Principal> principals;
  std::string endpoint = "unix:///run/aziot/certd.sock";
  std::string keyd_endpoint = "unix:///run/aziot/keyd.sock";
  std::vector<std::string> warnings;  // for the daemon to log (e.g. EST over plain HTTP)
};

// AZIOT_CERTD_CONFIG (default /etc/aziot/certd/config.toml) and AZIOT_CERTD_CONFIG_DIR
// (default /etc/aziot/certd/config.d).
edge::config::Paths config_paths();
Result<Config> load_config(const edge::config::Paths& paths);
Result<Config> parse_config(const std::string& toml_text, const std::string& name);

// May `uid` create, import or delete cert `id`? (uid 0 always may.)
bool authorized(const Config& config, uid_t uid, const std::string& id);

// "<1..99>%", "<n>min" or "<n>day" with n > 0, as upstream's renewal policies.
bool valid_renewal_policy(const std::string& text);

}  // namespace certd
