// aziot-certd's HTTP API (api-version 2020-09-01): create from CSR, import, get, delete.
#pragma once
#include <memory>

#include "certd/config.h"
#include "certd/store.h"
#include "common/clients/keyd_client.h"
#include "common/http/router.h"

namespace certd {

class Service {
 public:
  Service(Config config, CertStore store, std::unique_ptr<edge::clients::KeydClient> keyd);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

  // POST /certificates: issues `cert_id` from `csr_pem` and stores leaf + issuer chain.
  Result<std::string> create_cert(uid_t caller, const std::string& cert_id,
                                  const std::string& csr_pem,
                                  const std::optional<std::pair<std::string, std::string>>& issuer);

 private:
  void add_routes();
  edge::Status authorize(uid_t uid, const std::string& id) const;
  // The stored chain of an issuer, checked: errors name `parameter`, reasons start with `prefix`.
  Result<std::vector<edge::crypto::X509Ptr>> issuer_chain(const std::string& cert_id,
                                                          const std::string& parameter,
                                                          const std::string& prefix) const;

  Config config_;
  CertStore store_;
  std::unique_ptr<edge::clients::KeydClient> keyd_;
  edge::http::Router router_;
};

}  // namespace certd
