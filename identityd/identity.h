// The device and module identities: provisioning (manual / DPS) with an on-disk result for
// offline starts, module identities in the hub with keys derived in keyd, local identities
// issued by certd, and the reconcile of [[principal]] modules.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/clients/tpmd_client.h"
#include "common/http/message.h"
#include "identityd/clients.h"
#include "identityd/cloud.h"
#include "identityd/config.h"

namespace identityd {

constexpr const char* kMasterKeyId = "aziot_identityd_master_id";
constexpr const char* kDeviceBackupFile = "device_info";
constexpr const char* kModuleBackupFile = "modules.json";
constexpr size_t kMaxModuleId = 128;

struct Device {
  std::string hub;
  std::string device_id;
  std::string gateway;                // local_gateway_hostname, else the hub
  AuthMethod auth = AuthMethod::Sas;  // Sas (symmetric key in keyd), X509, or Tpm (key in tpmd)
  std::string key_id;                 // keyd id: symmetric key (sas) or key pair (x509)
  std::string cert_id;                // certd id (x509)
};

class IdentityManager {
 public:
  explicit IdentityManager(Config config);

  // Startup: provision (reusing the saved result when allowed), then reconcile modules.
  // Fails only when there is no identity at all (no network and no saved state).
  Status start();
  // POST /identities/device/reprovision: forget the saved state, provision again, reconcile.
  Status reprovision();
  // [provisioning.attestation] identity_auto_renew (DPS X.509): when the identity certificate is
  // due, a new one (with a new key when rotate_key) is issued by certd under "<cert>-temp",
  // registered with DPS, then committed to the configured ids. Returns the seconds until the
  // next check (the retry period after a failure).
  int64_t renew_identity_if_due();

  Result<edge::http::Json> device_identity();
  edge::http::Json provisioning_info();
  Result<edge::http::Json> get_module(const std::string& id, bool local);
  Result<edge::http::Json> create_module(const std::string& id, bool local,
                                         const std::optional<LocalIdOpts>& opts);
  Result<edge::http::Json> update_module(const std::string& id);
  Status delete_module(const std::string& id, bool local);
  Result<edge::http::Json> list_modules();
  std::string trust_bundle();
  // The configuration callers are authorized against; replaced as a whole on reload.
  std::shared_ptr<const Config> config() const;
  // Hot reload: principals and settings are replaced, modules reconciled; a changed
  // [provisioning] section provisions again. Endpoints, homedir and max_requests need a restart.
  Status update_config(Config config);

 private:
  Status provision(bool allow_backup, bool offline_fallback);
  // `identity`: an X.509 identity (PEM chain, keyd key pair id) to register instead of the
  // configured one (certificate renewal).
  Result<Device> provision_from_cloud(
      edge::http::Json& info,
      const std::optional<std::pair<std::string, std::string>>& identity = std::nullopt);
  Status renew_identity_cert(const AutoRenew& policy, X509* old_leaf);
  Status add_tls_identity_pem(CloudOptions& options, const std::string& pem,
                              const std::string& key_id, const std::string& what);
  Signer tpm_signer();
  Status reconcile_locked();
  Result<HubClient> hub_client();
  Result<std::string> issue_identity_cert(const std::string& cert_id, const std::string& key_id);
  Status add_tls_identity(CloudOptions& options, const std::string& cert_id,
                          const std::string& key_id);
  Result<Device> require_device();
  Result<edge::http::Json> module_identity(const Module& m, bool with_auth);
  Result<std::pair<std::string, std::pair<edge::Secret, edge::Secret>>> module_keys(
      const Module& m);
  Result<edge::http::Json> publish_module_keys(HubClient& hub, const std::string& id,
                                               const Module& module);
  Result<edge::http::Json> local_identity(const std::string& id, const LocalIdOpts& opts);
  Result<Module> fetch_module(const std::string& id);
  void load_module_backup();
  void save_module_backup();
  void save_device_backup(const edge::http::Json& info);
  CloudOptions cloud_options();

  std::mutex mutex_;  // one identity operation at a time, as upstream
  Config config_;
  KeyClient keys_;
  CertClient certs_;
  edge::clients::TpmdClient tpm_;
  std::optional<Device> device_;
  edge::http::Json info_;                  // GET /identities/provisioning
  std::map<std::string, Module> modules_;  // module identity cache (backup on disk)
  std::set<std::string> reconciled_;       // modules this daemon created for principals
  std::string trust_bundle_;
  mutable std::mutex snapshot_mutex_;
  std::shared_ptr<const Config> snapshot_;
};

}  // namespace identityd
