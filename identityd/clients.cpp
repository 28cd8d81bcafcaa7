#include "identityd/clients.h"

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/base64.h"
#include "common/uri.h"

namespace identityd {
using edge::ErrorKind;
using edge::http::Json;

namespace {
constexpr const char* kKeydApi = "?api-version=2020-09-01";
constexpr const char* kCertdApi = "?api-version=2020-09-01";

std::string seg(const std::string& s) { return edge::uri::percent_encode(s); }

Result<Json> exchange(const std::string& socket, const std::string& service,
                      const std::string& method, const std::string& target,
                      const std::optional<Json>& body, int expected) {
  edge::http::UnixClient client(socket, std::chrono::milliseconds(30000));
  auto r = client.request(method, target, body);
  if (!r)
    return edge::fail(ErrorKind::Unavailable, service + " is unreachable: " + r.error().message);
  if (r->status != expected) {
    ErrorKind kind = r->status == 401   ? ErrorKind::Unauthorized
                     : r->status == 400 ? ErrorKind::InvalidParameter
                                        : ErrorKind::Internal;
    return edge::fail(kind,
                      service + " answered " + std::to_string(r->status) + ": " + r->message());
  }
  if (expected == 204) return Json();
  auto j = r->json();
  if (!j || !j->is_object()) return edge::internal(service + " sent a malformed response");
  return *j;
}

Result<std::string> field(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string())
    return edge::internal(std::string("response lacks \"") + name + "\"");
  return it->get<std::string>();
}
Result<std::string> b64_field(const Json& j, const char* name) {
  auto text = EDGE_TRY(field(j, name));
  auto bytes = edge::base64::decode(text);
  if (!bytes) return edge::internal(std::string("response field \"") + name + "\" is not base64");
  return *bytes;
}
}  // namespace

Result<Json> KeyClient::call(const std::string& method, const std::string& path,
                             const std::optional<Json>& body) {
  return exchange(path_, "keyd", method, path + kKeydApi, body, 200);
}

Result<std::string> KeyClient::load_key(const std::string& id) {
  return field(EDGE_TRY(call("GET", "/key/" + seg(id), std::nullopt)), "keyHandle");
}
Result<std::string> KeyClient::create_key_if_not_exists(const std::string& id,
                                                        const std::string& usage) {
  return field(EDGE_TRY(call("POST", "/key", Json{{"keyId", id}, {"usage", usage}})), "keyHandle");
}
Result<std::string> KeyClient::load_key_pair(const std::string& id) {
  return field(EDGE_TRY(call("GET", "/keypair/" + seg(id), std::nullopt)), "keyHandle");
}
Result<std::string> KeyClient::create_key_pair_if_not_exists(const std::string& id,
                                                             const std::string& algorithms) {
  return field(
      EDGE_TRY(call("POST", "/keypair", Json{{"keyId", id}, {"preferredAlgorithms", algorithms}})),
      "keyHandle");
}
Status KeyClient::delete_key_pair(const std::string& handle) {
  EDGE_TRY(exchange(path_, "keyd", "DELETE", std::string("/keypair") + kKeydApi,
                    Json{{"keyHandle", handle}}, 204));
  return {};
}
Status KeyClient::move_key_pair(const std::string& from, const std::string& to) {
  EDGE_TRY(
      exchange(path_, "keyd", "POST", "/keypair/" + seg(to) + kKeydApi, Json{{"from", from}}, 204));
  return {};
}
Result<std::string> KeyClient::derive_key(const std::string& base, const std::string& data) {
  return field(
      EDGE_TRY(call("POST", "/derivedkey",
                    Json{{"baseKeyHandle", base}, {"derivationData", edge::base64::encode(data)}})),
      "keyHandle");
}
Result<edge::Secret> KeyClient::export_key(const std::string& handle) {
  return edge::Secret(EDGE_TRY(
      b64_field(EDGE_TRY(call("POST", "/derivedkey/export", Json{{"keyHandle", handle}})), "key")));
}
Result<std::string> KeyClient::sign_hmac(const std::string& handle, std::string_view message) {
  Json body{{"keyHandle", handle},
            {"algorithm", "HMAC-SHA256"},
            {"parameters", {{"message", edge::base64::encode(message)}}}};
  return b64_field(EDGE_TRY(call("POST", "/sign", body)), "signature");
}
Result<std::string> KeyClient::sign_ecdsa(const std::string& handle, std::string_view digest) {
  Json body{{"keyHandle", handle},
            {"algorithm", "ECDSA"},
            {"parameters", {{"digest", edge::base64::encode(digest)}}}};
  return b64_field(EDGE_TRY(call("POST", "/sign", body)), "signature");
}
Result<std::string> KeyClient::encrypt_rsa(const std::string& handle, const std::string& algorithm,
                                           std::string_view data) {
  Json body{
      {"keyHandle", handle}, {"algorithm", algorithm}, {"plaintext", edge::base64::encode(data)}};
  return b64_field(EDGE_TRY(call("POST", "/encrypt", body)), "ciphertext");
}
Result<std::string> KeyClient::parameter(const std::string& handle, const std::string& name) {
  return field(EDGE_TRY(call("POST", "/parameters/" + name, Json{{"keyHandle", handle}})), "value");
}

Result<std::string> CertClient::get(const std::string& id) {
  return field(EDGE_TRY(exchange(path_, "certd", "GET", "/certificates/" + seg(id) + kCertdApi,
                                 std::nullopt, 200)),
               "pem");
}
Result<std::string> CertClient::create(const std::string& id, const std::string& csr_pem) {
  return field(EDGE_TRY(exchange(path_, "certd", "POST", std::string("/certificates") + kCertdApi,
                                 Json{{"certId", id}, {"csr", csr_pem}}, 201)),
               "pem");
}

}  // namespace identityd

namespace identityd {
Status CertClient::import(const std::string& id, const std::string& pem) {
  EDGE_TRY(exchange(path_, "certd", "PUT", "/certificates/" + seg(id) + kCertdApi,
                    Json{{"pem", pem}}, 201));
  return {};
}
Status CertClient::remove(const std::string& id) {
  EDGE_TRY(exchange(path_, "certd", "DELETE", "/certificates/" + seg(id) + kCertdApi, std::nullopt,
                    204));
  return {};
}
}  // namespace identityd
