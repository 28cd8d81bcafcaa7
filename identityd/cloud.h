// The cloud calls identityd makes: IoT Hub module identities (REST, api-version
// 2017-11-08-preview) and DPS registration (api-version 2021-06-01), authenticated with SAS
// tokens signed in keyd or with a TLS client certificate.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/cloud/https_client.h"
#include "common/http/message.h"
#include "common/result.h"

namespace identityd {
using edge::Result;
using edge::Status;

constexpr const char* kHubApiVersion = "2017-11-08-preview";
constexpr const char* kDpsApiVersion = "2021-06-01";
constexpr size_t kMaxCloudResponse = 1024 * 1024;

// HMAC-SHA256 over the string to sign, done by whoever holds the key.
using Signer = std::function<Result<std::string>(std::string_view)>;

// Percent-encoding of IoT SAS resource URIs and path segments (path-segment set plus '=').
std::string encode_segment(std::string_view s);
// "SharedAccessSignature sr=..&sig=..&se=..[&skn=..]"; audience is lower-cased first.
Result<std::string> sas_token(const std::string& audience, const Signer& sign, int64_t expiry,
                              const std::optional<std::string>& key_name = std::nullopt);

struct CloudOptions {
  std::chrono::milliseconds timeout{70000};
  unsigned retries = 1;
  std::string extra_roots_pem;
  std::optional<edge::cloud::ClientIdentity> identity;
  std::shared_ptr<void> identity_owner;  // keeps the certificates and key behind `identity` alive
  std::chrono::milliseconds retry_delay{3000};
  std::chrono::milliseconds max_poll_wait{5000};
};

// Error kinds from the cloud: Unavailable/Timeout = network (the device may run offline);
// Unauthorized = 401/403; NotFound = 404; InvalidParameter = 400/409/412...; Internal = 5xx
// or a malformed answer.
struct Module {
  std::string module_id;
  std::string device_id;
  std::string generation_id;
  std::optional<std::string> managed_by;
};

struct HubTarget {
  std::string hub;   // iothub_hostname: SAS audience
  std::string host;  // where requests go: the hub or the parent gateway (nested)
  std::string device_id;
};

class HubClient {
 public:
  HubClient(HubTarget target, std::optional<Signer> signer, CloudOptions options)
      : target_(std::move(target)), signer_(std::move(signer)), options_(std::move(options)) {}
  Result<Module> create_module(const std::string& module_id);
  Result<Module> update_module_keys(const std::string& module_id, const std::string& primary,
                                    const std::string& secondary);
  Result<Module> get_module(const std::string& module_id);
  Result<std::vector<Module>> list_modules();
  Status delete_module(const std::string& module_id);

 private:
  Result<edge::cloud::Response> send(const std::string& method, const std::string& module_id,
                                     const std::optional<edge::http::Json>& body, bool if_match);
  HubTarget target_;
  std::optional<Signer> signer_;  // absent for X.509 devices
  CloudOptions options_;
};

struct DpsAssignment {
  std::string assigned_hub;
  std::string device_id;
  std::optional<edge::http::Json> payload;
};

// TPM attestation: the first registration request carries the TPM's public keys and no token;
// DPS answers 401 with an "authenticationKey" blob for that TPM, which is imported (tpmd) before
// the registration is sent again with a token signed by the imported key (`signer`). The
// assignment may carry a new blob ("registrationState.tpm.authenticationKey"), imported too.
struct DpsTpm {
  std::string endorsement_key;   // marshaled TPM2B_PUBLIC
  std::string storage_root_key;  // marshaled TPM2B_PUBLIC
  std::function<Status(std::string_view blob)> import_auth_key;
};
constexpr size_t kMaxAuthKeyBlob = 8 * 1024;  // tpmd's limit for import_auth_key

struct DpsRequest {
  std::string endpoint;  // https://global.azure-devices-provisioning.net/
  std::string scope_id;
  std::string registration_id;
  std::optional<Signer> signer;  // symmetric key or TPM auth key; absent for X.509
  std::optional<DpsTpm> tpm;
  std::optional<edge::http::Json> payload;
};
Result<DpsAssignment> dps_register(const DpsRequest& request, const CloudOptions& options);

// Maps an unexpected cloud response to an error naming the service and status.
edge::Error cloud_error(const std::string& what, const edge::cloud::Response& r);
bool is_network_error(const edge::Error& e);

}  // namespace identityd
