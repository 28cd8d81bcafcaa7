#include "common/clients/tpmd_client.h"

#include "common/base64.h"

namespace edge::clients {
using edge::ErrorKind;
using edge::Result;
using edge::http::Json;

namespace {
const char kApi[] = "?api-version=2020-09-01";

Result<std::string> b64_member(const Json& j, const char* name) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_string())
    return edge::internal(std::string("aziot-tpmd's response has no \"") + name + "\"");
  auto bytes = edge::base64::decode(j[name].get<std::string>());
  if (!bytes) return edge::internal(std::string("aziot-tpmd's \"") + name + "\" is not base64");
  return *bytes;
}
}  // namespace

TpmdClient::TpmdClient(std::string socket_path) : client_(std::move(socket_path)) {}

Result<Json> TpmdClient::call(const std::string& method, const std::string& path,
                              const std::optional<Json>& body) {
  std::lock_guard lock(mutex_);
  auto r = client_.request(method, path + kApi, body);
  if (!r)
    return edge::fail(ErrorKind::Unavailable, "could not reach aziot-tpmd: " + r.error().message);
  if (r->status != 200) {
    ErrorKind kind = r->status == 400   ? ErrorKind::InvalidParameter
                     : r->status == 503 ? ErrorKind::Unavailable
                                        : ErrorKind::Internal;
    return edge::fail(kind, "aziot-tpmd " + path + " failed (" + std::to_string(r->status) +
                                "): " + r->message());
  }
  return r->json();
}

Result<TpmKeys> TpmdClient::get_tpm_keys() {
  auto j = EDGE_TRY(call("GET", "/get_tpm_keys", std::nullopt));
  return TpmKeys{EDGE_TRY(b64_member(j, "endorsement_key")),
                 EDGE_TRY(b64_member(j, "storage_root_key"))};
}

edge::Status TpmdClient::import_auth_key(std::string_view blob) {
  EDGE_TRY(call("POST", "/import_auth_key", Json{{"key", edge::base64::encode(blob)}}));
  return {};
}

Result<std::string> TpmdClient::sign_with_auth_key(std::string_view data) {
  auto j =
      EDGE_TRY(call("POST", "/sign_with_auth_key", Json{{"data", edge::base64::encode(data)}}));
  return b64_member(j, "digest");
}

}  // namespace edge::clients
