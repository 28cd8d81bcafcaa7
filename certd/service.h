// aziot-certd's HTTP API (api-version 2020-09-01): create from CSR, import, get, delete.
#pragma once
#include <memory>
#include <mutex>

#include "certd/config.h"
#include "certd/store.h"
#include "common/clients/keyd_client.h"
#include "common/http/router.h"

namespace certd {

class Service {
 public:
  Service(Config config, std::unique_ptr<edge::clients::KeydClient> keyd);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

  // A reloaded config: as upstream, only cert_issuance, preloaded_certs and principal change;
  // requests already running finish with the config they started with.
  void update_config(Config config);

  // POST /certificates: issues `cert_id` from `csr_pem` and stores leaf + issuer chain.
  Result<std::string> create_cert(uid_t caller, const std::string& cert_id,
                                  const std::string& csr_pem,
                                  const std::optional<std::pair<std::string, std::string>>& issuer);

 private:
  struct State {
    Config config;
    CertStore store;
  };
  static std::shared_ptr<const State> make_state(Config config);
  std::shared_ptr<const State> state() const;
  void add_routes();

  mutable std::mutex state_mutex_;
  std::shared_ptr<const State> state_;
  std::unique_ptr<edge::clients::KeydClient> keyd_;
  edge::http::Router router_;
};

}  // namespace certd
