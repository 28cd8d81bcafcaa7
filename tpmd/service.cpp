#include "tpmd/service.h"

#include "common/base64.h"
#include "common/log.h"

namespace tpmd {
using edge::ErrorKind;
using edge::Result;
using edge::http::Json;
using edge::http::Request;
using edge::http::Response;
namespace http = edge::http;

namespace {
const http::ApiRange kV1{"2020-09-01", ""};

// TPM failures: a wrong hierarchy password is a server-side configuration problem (500, and
// logged); an unreachable or busy TPM is 503 with the reason, logged once here.
edge::Error tpm_error(edge::Error e) {
  if (e.kind == ErrorKind::Unauthorized) e.kind = ErrorKind::Internal;
  if (e.kind == ErrorKind::Unavailable) edge::log::warn(e.message);
  return e;
}
template <class T>
Result<T> tpm_result(Result<T> r) {
  if (r) return r;
  return edge::fail(tpm_error(r.error()));
}
edge::Status tpm_result(edge::Status r) {
  if (r) return r;
  return edge::fail(tpm_error(r.error()));
}
}  // namespace

Service::Service(Tpm& tpm) : tpm_(tpm), router_({"2020-09-01"}) {
  router_.add("GET", "/get_tpm_keys", kV1, [this](Request&) -> Result<Response> {
    auto keys = EDGE_TRY(tpm_result(tpm_.get_keys()));
    return Response::json(200,
                          Json{{"endorsement_key", edge::base64::encode(keys.endorsement_key)},
                               {"storage_root_key", edge::base64::encode(keys.storage_root_key)}});
  });
  router_.add("POST", "/import_auth_key", kV1, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    edge::Secret blob(EDGE_TRY(http::bytes_field(*body, "key")));
    EDGE_TRY_VOID(tpm_result(tpm_.import_auth_key(blob.view())));
    edge::log::info("Imported the DPS auth key");
    return Response::json(200, Json::object());
  });
  router_.add("POST", "/sign_with_auth_key", kV1, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto data = EDGE_TRY(http::bytes_field(*body, "data"));
    auto digest = EDGE_TRY(tpm_result(tpm_.sign_with_auth_key(data)));
    return Response::json(200, Json{{"digest", edge::base64::encode(digest)}});
  });
}

}  // namespace tpmd
