// aziot-edged's workload API (every route of upstream's table): module SAS signatures with
// the module's identityd key, AEAD with the master encryption key (aad = module + genid),
// identity and server certificates issued by certd under the Edge CA, and the trust bundles.
// Module routes answer only to a process of the named module (403 otherwise).
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>

#include "common/clients/keyd_client.h"
#include "common/http/router.h"
#include "edged/aziot_clients.h"
#include "edged/csr.h"

namespace edged {

struct WorkloadOptions {
  std::string hub_name;   // from the device identity
  std::string device_id;
  std::string trust_bundle = "aziot-edged-trust-bundle";
  std::string manifest_trust_bundle = "aziot-edged-manifest-trust-bundle";
  std::string edge_ca_cert = "aziot-edged-ca";
  std::string edge_ca_key = "aziot-edged-ca";
};

// Is `pid` a process of module `name`? (edged: `docker top`, see auth.h)
using CallerCheck = std::function<edge::Status(const std::string& module, pid_t pid)>;
// {"modules": [...]} as the management API lists them.
using ModuleLister = std::function<edge::Result<edge::http::Json>()>;

constexpr const char* kMasterEncryptionKey = "iotedge_master_encryption_id";

class Workload {
 public:
  Workload(WorkloadOptions options, edge::clients::KeydClient& keyd, CertdClient& certd,
           IdentitydClient& identityd, CallerCheck check_caller, ModuleLister list_modules);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

 private:
  void add_routes();
  edge::Result<std::string> module_key(const std::string& module);
  edge::Result<edge::http::Response> issue(const std::string& cert_id, const std::string& common_name,
                                           const std::vector<SubjectAltName>& sans, bool server);

  WorkloadOptions options_;
  edge::clients::KeydClient& keyd_;
  CertdClient& certd_;
  IdentitydClient& identityd_;
  CallerCheck check_caller_;
  ModuleLister list_modules_;
  edge::http::Router router_;
};

}  // namespace edged
