// aziot-keyd's HTTP API (api-versions 2020-09-01 and 2021-05-01).
#pragma once
#include <memory>

#include "common/http/router.h"
#include "keyd/config.h"
#include "keyd/handle.h"
#include "keyd/keystore.h"

namespace keyd {

class Service {
 public:
  Service(Config config, std::unique_ptr<KeyStore> store);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

 private:
  void add_routes();
  Result<std::string> issue(const KeyRef& ref);
  Result<KeyRef> verify(const std::string& handle);
  Result<std::shared_ptr<KeyPair>> key_pair_for(const std::string& handle);
  Result<std::shared_ptr<SymmetricKey>> symmetric_key_for(const std::string& handle);
  edge::Status authorize(uid_t uid, const std::string& id) const;

  Config config_;
  std::unique_ptr<KeyStore> store_;
  edge::http::Router router_;
};

}  // namespace keyd
