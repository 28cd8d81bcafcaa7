// aziot-edged's typed calls to certd and identityd over their Unix sockets (one connection
// per call, so one client serves every thread). keyd is common/clients/keyd_client.h.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/http/client.h"
#include "common/result.h"

namespace edged {
using edge::Result;
using edge::Status;
using edge::http::Json;

// certd (api-version 2020-09-01). 400/404 answers are InvalidParameter ("certd: ...").
class CertdClient {
 public:
  explicit CertdClient(std::string socket_path) : path_(std::move(socket_path)) {}
  Result<std::string> get(const std::string& id);  // PEM chain
  // POST /certificates; `issuer` = (cert id, key handle), none = per certd's cert_issuance.
  Result<std::string> create(const std::string& id, const std::string& csr_pem,
                             const std::optional<std::pair<std::string, std::string>>& issuer);
  Status import(const std::string& id, const std::string& pem);
  Status remove(const std::string& id);

 private:
  Result<Json> call(const std::string& method, const std::string& path,
                    const std::optional<Json>& body);
  std::string path_;
};

// The aziot identity spec fields edged uses.
struct AziotIdentity {
  std::string hub_name;
  std::string gateway_host;
  std::string device_id;
  std::string module_id;
  std::string gen_id;
  std::string auth_type;   // "sas" | "x509" | "tpm" | ""
  std::string key_handle;  // sas: the derived key's handle
};
Result<AziotIdentity> parse_aziot_identity(const Json& identity);

// identityd (api-version 2020-09-01). Its 400/401/404 answers keep their kind ("identityd: ...").
class IdentitydClient {
 public:
  static constexpr const char* kApiVersion = "2020-09-01";
  explicit IdentitydClient(std::string socket_path) : path_(std::move(socket_path)) {}
  Result<AziotIdentity> device_identity();
  Result<AziotIdentity> module_identity(const std::string& module_id);
  Result<std::vector<AziotIdentity>> list_modules();
  Result<AziotIdentity> create_module(const std::string& module_id);
  Result<AziotIdentity> update_module(const std::string& module_id);
  Status delete_module(const std::string& module_id);

 private:
  Result<Json> call(const std::string& method, const std::string& target,
                    const std::optional<Json>& body);
  std::string path_;
};

}  // namespace edged
