// aziot-tpmd's HTTP API (api-version 2020-09-01):
//   GET  /get_tpm_keys        -> {"endorsement_key": b64, "storage_root_key": b64}
//   POST /import_auth_key     {"key": b64}  -> {}
//   POST /sign_with_auth_key  {"data": b64} -> {"digest": b64}
#pragma once
#include "common/http/router.h"
#include "tpmd/tpm.h"

namespace tpmd {

class Service {
 public:
  explicit Service(Tpm& tpm);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

 private:
  Tpm& tpm_;
  edge::http::Router router_;
};

}  // namespace tpmd
