// The super-config (/etc/aziot/config.toml) as typed data: what `iotedge config apply` and
// `aziotctl config apply` read. Parsing validates every key with errors that name file, line,
// column and key path; softer problems become warnings.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/toml_out.h"
#include "common/result.h"

namespace edge::cli {

// Renewal policy of an issued certificate. Policies are kept normalised ("80%", "2day", "90min").
struct AutoRenew {
  bool rotate_key = true;
  std::string threshold = "80%";
  std::string retry = "4%";
  bool is_default() const { return rotate_key && threshold == "80%" && retry == "4%"; }
};

// common_name = "..." or subject = { CN = "...", L = "..." } (sorted by key as upstream).
struct CertSubject {
  std::optional<std::string> common_name;
  std::map<std::string, std::string> subject;
};

struct EstAuthBasic {
  std::string username, password;
};
struct EstAuthX509 {
  bool bootstrap = false;  // bootstrap_identity_* rather than identity_*
  std::string cert;        // URL
  std::string pk;          // key location
};
struct EstAuth {
  std::optional<EstAuthBasic> basic;
  std::optional<EstAuthX509> x509;
};

enum class IssuanceMethod { Est, LocalCa, SelfSigned };
struct IssuanceOptions {
  IssuanceMethod method = IssuanceMethod::SelfSigned;
  std::optional<std::string> url;  // EST only
  std::optional<EstAuth> auth;     // EST only
  std::optional<int64_t> expiry_days;
  std::optional<AutoRenew> auto_renew;
  std::optional<CertSubject> subject;
};

// identity_cert = "file://..." + identity_pk (preloaded), or identity_cert = { method = ... }.
struct X509Identity {
  std::optional<IssuanceOptions> issued;
  std::string cert, pk;  // when preloaded
};

// { value = "<base64>" } or { uri = "file://...|pkcs11:..." }
struct SymmetricKey {
  std::optional<std::string> bytes;
  std::optional<std::string> uri;
};

struct Provisioning {
  enum class Source { Manual, Dps, None } source = Source::Manual;
  // manual
  std::optional<std::string> connection_string;  // kept verbatim
  std::string iothub_hostname, device_id;
  enum class ManualAuth { Sas, X509 } manual_auth = ManualAuth::Sas;
  SymmetricKey device_id_pk;
  X509Identity identity;
  // dps
  std::string global_endpoint, id_scope;
  std::optional<std::string> payload_uri;
  enum class Attestation { SymmetricKey, X509, Tpm } attestation = Attestation::SymmetricKey;
  std::optional<std::string> registration_id;
  SymmetricKey symmetric_key;
};

struct Est {
  std::vector<std::string> trusted_certs;
  AutoRenew identity_auto_renew;
  std::optional<EstAuth> auth;
  std::map<std::string, std::string> urls;
};

struct LocalCa {
  std::optional<IssuanceOptions> issued;
  std::string cert, pk;
};

struct PreloadedCert {
  std::optional<std::string> uri;
  std::vector<std::string> ids;
};

struct MaxRequests {
  int64_t keyd = 10, certd = 10, tpmd = 10, identityd = 10;
  bool is_default() const { return keyd == 10 && certd == 10 && tpmd == 10 && identityd == 10; }
};

struct TpmConfig {
  std::optional<std::string> tcti;
  std::optional<int64_t> auth_key_index;
  std::optional<std::string> endorsement, owner;
};

// The part shared by iotedge and aziotctl (upstream's aziotctl-common super-config).
struct AziotConfig {
  std::optional<std::string> hostname;
  std::optional<std::string> parent_hostname;
  int64_t cloud_timeout_sec = 70;
  int64_t cloud_retries = 1;
  MaxRequests aziot_max_requests;
  bool prefer_module_identity_cache = false;
  Provisioning provisioning;
  std::optional<std::string> localid_domain;
  std::map<std::string, std::string> aziot_keys;
  std::map<std::string, std::string> preloaded_keys;  // normalised locations
  std::optional<Est> est;
  std::optional<LocalCa> local_ca;
  std::map<std::string, PreloadedCert> preloaded_certs;
  TpmConfig tpm;
};

struct EdgeCa {
  enum class Kind { Issued, Preloaded, Quickstart } kind = Kind::Quickstart;
  IssuanceOptions issued;
  std::string cert, pk;                // preloaded URLs
  int64_t expiry_days = 90;            // quickstart
  AutoRenew auto_renew;                // quickstart
  std::optional<CertSubject> subject;  // quickstart
};

struct ImagePrune {
  int64_t cleanup_recurrence_secs = 86400;
  int64_t image_age_cleanup_threshold_secs = 7 * 86400;
  int64_t cleanup_time_minutes = 0;
  bool enabled = true;
  bool is_default() const {
    return cleanup_recurrence_secs == 86400 && image_age_cleanup_threshold_secs == 7 * 86400 &&
           cleanup_time_minutes == 0 && enabled;
  }
};

// Everything `iotedge config apply` reads on top of AziotConfig.
struct EdgeConfig {
  AziotConfig aziot;
  std::optional<std::string> trust_bundle_cert;
  std::optional<bool> allow_elevated_docker_permissions;
  std::string auto_reprovisioning_mode = "Dynamic";
  std::optional<std::string> imported_master_encryption_key;  // a path
  std::optional<std::string> additional_info;                 // a file:// URL
  int64_t iotedge_max_management = 50, iotedge_max_workload = 10;
  Table agent;  // ready to write: name, type, imagePullPolicy, config, env
  std::string connect_workload = "unix:///var/run/iotedge/workload.sock";
  std::string connect_management = "unix:///var/run/iotedge/mgmt.sock";
  std::string listen_workload = "fd://aziot-edged.workload.socket";
  std::string listen_management = "fd://aziot-edged.mgmt.socket";
  std::optional<int64_t> watchdog_max_retries;  // nullopt = infinite
  std::optional<EdgeCa> edge_ca;
  std::string moby_uri = "unix:///var/run/docker.sock";
  Value moby_network = Value("azure-iot-edge");  // a name, or a table
  std::optional<std::map<std::string, std::string>> content_trust_ca_certs;
  bool has_content_trust = false;
  ImagePrune image_garbage_collection;
};

// A file the config points at, checked before anything is written.
struct ReferencedFile {
  std::string key_path;  // e.g. "edge_ca.cert"
  std::string url;
};

struct ParseOutput {
  std::vector<std::string> warnings;
  std::vector<ReferencedFile> files;
};

enum class Flavor { Iotedge, Aziotctl };

Result<EdgeConfig> parse_edge_config(std::string_view text, const std::string& source_name,
                                     ParseOutput& out);
Result<AziotConfig> parse_aziot_config(std::string_view text, const std::string& source_name,
                                       ParseOutput& out);

// Upstream's default agent: edgeAgent / docker / mcr.microsoft.com/azureiotedge-agent:1.6.
Table default_agent();
Value auto_renew_value(const AutoRenew& a);
Result<std::string> base64_decode_ignore_pad(std::string_view text);
// HostName / DeviceId / SharedAccessKey (other components ignored).
struct ConnectionString {
  std::string hostname, device_id, key_bytes;
};
Result<ConnectionString> parse_connection_string(std::string_view text);

}  // namespace edge::cli
