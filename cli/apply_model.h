// Internal to config apply: the identity-service configs while they are assembled, shared by
// apply.cpp (aziotctl and the common part) and edge_apply.cpp (what iotedge adds).
#pragma once
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/apply.h"

namespace edge::cli::detail {

constexpr const char* kDeviceId = "device-id";
constexpr const char* kLocalCa = "local-ca";
constexpr const char* kEstId = "est-id";
constexpr const char* kEstBootstrapId = "est-bootstrap-id";
constexpr const char* kEdgeCa = "aziot-edged-ca";
constexpr const char* kEdgeTrustBundle = "aziot-edged-trust-bundle";
constexpr int64_t kDefaultMaxRequests = 10;

// certd's view of EST credentials: ids of preloaded or issued certs/keys, never URLs.
struct CertdEstAuth {
  std::optional<EstAuthBasic> basic;
  std::optional<std::pair<std::string, std::string>> identity;   // cert id, key id
  std::optional<std::pair<std::string, std::string>> bootstrap;  // cert id, key id
};

struct CertdIssuance {
  IssuanceMethod method = IssuanceMethod::SelfSigned;
  std::optional<std::string> url;
  std::optional<CertdEstAuth> auth;
  std::optional<int64_t> expiry_days;
  std::optional<CertSubject> subject;
};

struct CertdEst {
  std::vector<std::string> trusted_certs;
  std::optional<CertdEstAuth> auth;
  AutoRenew identity_auto_renew;
  std::map<std::string, std::string> urls;
};

struct Principal {
  uid_t uid;
  std::vector<std::string> ids;
};

// The four identity-service configs while they are being assembled.
struct Model {
  MaxRequests max_requests;
  std::map<std::string, std::string> aziot_keys;
  std::map<std::string, std::string> preloaded_keys;
  std::vector<Principal> keyd_principals;

  std::optional<CertdEst> est;
  std::optional<std::pair<std::string, std::string>> local_ca;
  std::map<std::string, CertdIssuance> certs;
  std::map<std::string, PreloadedCert> preloaded_certs;
  std::vector<Principal> certd_principals;

  Table identityd;
  Table tpmd;
  std::optional<std::string> device_id_key;
};

PreloadedCert uri_cert(const std::string& uri);
// Per-certificate EST credentials: preloads them under ids derived from the cert name and
// grants certd's key access (upstream's set_est_auth).
std::optional<CertdEstAuth> set_est_auth(const std::optional<EstAuth>& auth, Model& m,
                                         std::map<std::string, std::string>& preloaded_keys,
                                         Principal& aziotcs, const std::string& cert_name);
void put_subject(Table& t, const std::optional<CertSubject>& s);
Table keyd_table(const Model& m);
Table certd_table(const Model& m);
Result<Model> build_identity_model(const AziotConfig& c, const std::string& machine_hostname,
                                   const PrincipalUids& uids);

}  // namespace edge::cli::detail
