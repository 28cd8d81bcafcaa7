// KeydClient's symmetric-key and key-move calls (kept apart from the key-pair calls).
#include "common/base64.h"
#include "common/clients/keyd_client.h"
#include "common/uri.h"

namespace edge::clients {
namespace {
using http::Json;

Result<std::string> decoded_member(const Json& j, const char* name) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_string())
    return internal(std::string("keyd: response has no string \"") + name + "\"");
  auto bytes = base64::decode(j[name].get<std::string>());
  if (!bytes) return internal(std::string("keyd: response field \"") + name + "\" is not base64");
  return std::move(*bytes);
}
}  // namespace

Result<std::string> KeydClient::create_key_if_not_exists(const std::string& id,
                                                         const std::string& usage) {
  auto j = EDGE_TRY(call("POST", "/key", Json{{"keyId", id}, {"usage", usage}}));
  if (!j.is_object() || !j.contains("keyHandle") || !j["keyHandle"].is_string())
    return internal("keyd: response has no string \"keyHandle\"");
  return j["keyHandle"].get<std::string>();
}

Result<std::string> KeydClient::sign_hmac(const std::string& handle, std::string_view message) {
  auto j = EDGE_TRY(call("POST", "/sign",
                         Json{{"keyHandle", handle},
                              {"algorithm", "HMAC-SHA256"},
                              {"parameters", {{"message", base64::encode(message)}}}}));
  return decoded_member(j, "signature");
}

Result<std::string> KeydClient::encrypt_aead(const std::string& handle, std::string_view iv,
                                             std::string_view aad, std::string_view plaintext) {
  auto j = EDGE_TRY(call(
      "POST", "/encrypt",
      Json{{"keyHandle", handle},
           {"algorithm", "AEAD"},
           {"parameters", {{"iv", base64::encode(iv)}, {"aad", base64::encode(aad)}}},
           {"plaintext", base64::encode(plaintext)}}));
  return decoded_member(j, "ciphertext");
}

Result<std::string> KeydClient::decrypt_aead(const std::string& handle, std::string_view iv,
                                             std::string_view aad, std::string_view ciphertext) {
  auto j = EDGE_TRY(call(
      "POST", "/decrypt",
      Json{{"keyHandle", handle},
           {"algorithm", "AEAD"},
           {"parameters", {{"iv", base64::encode(iv)}, {"aad", base64::encode(aad)}}},
           {"ciphertext", base64::encode(ciphertext)}}));
  return decoded_member(j, "plaintext");
}

Status KeydClient::move_key_pair(const std::string& id, const std::string& from) {
  EDGE_TRY(call("POST", "/keypair/" + uri::percent_encode(id), Json{{"from", from}}));
  return {};
}

}  // namespace edge::clients
