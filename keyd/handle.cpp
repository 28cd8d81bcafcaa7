#include "keyd/handle.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace keyd {
using Json = nlohmann::json;

namespace {
std::unexpected<edge::Error> invalid_handle() {
  return edge::invalid("parameter \"handle\" has an invalid value\ncaused by: invalid handle");
}
}  // namespace

Result<std::string> issue_handle(SymmetricKey& validation_key, const KeyRef& ref) {
  Json key_id;
  switch (ref.kind) {
    case KeyRef::Kind::KeyPair: key_id = {{"KeyPair", ref.id}}; break;
    case KeyRef::Kind::Key: key_id = {{"Key", ref.id}}; break;
    case KeyRef::Kind::Derived: {
      Json bytes = Json::array();
      for (unsigned char c : ref.derivation_data) bytes.push_back(c);
      key_id = {{"Derived", Json::array({ref.base_handle, bytes})}};
      break;
    }
  }
  auto nonce = EDGE_TRY(crypto::random_bytes(64));
  std::string sr = Json{{"key_id", key_id}, {"nonce", edge::base64::encode(nonce)}}.dump();
  auto sig = EDGE_TRY(validation_key.hmac_sha256(sr));
  return "sr=" + edge::base64::encode(sr) + "&sig=" + edge::base64::encode(sig);
}

Result<KeyRef> verify_handle(SymmetricKey& validation_key, std::string_view handle) {
  if (handle.size() > kMaxHandleLength) return invalid_handle();
  auto amp = handle.find('&');
  if (amp == std::string_view::npos) return invalid_handle();
  auto first = handle.substr(0, amp), second = handle.substr(amp + 1);
  if (!first.starts_with("sr=") || !second.starts_with("sig=")) return invalid_handle();
  auto sr = edge::base64::decode(first.substr(3));
  auto sig = edge::base64::decode(second.substr(4));
  if (!sr || !sig) return invalid_handle();
  auto expected = EDGE_TRY(validation_key.hmac_sha256(*sr));
  if (!crypto::constant_time_equal(expected, *sig)) return invalid_handle();
  // Authentic from here on; the JSON was written by us, but parse it defensively anyway.
  Json doc = Json::parse(*sr, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("key_id") || !doc["key_id"].is_object())
    return invalid_handle();
  const Json& key_id = doc["key_id"];
  KeyRef ref;
  if (auto it = key_id.find("KeyPair"); it != key_id.end() && it->is_string()) {
    ref.kind = KeyRef::Kind::KeyPair;
    ref.id = it->get<std::string>();
  } else if (auto k = key_id.find("Key"); k != key_id.end() && k->is_string()) {
    ref.kind = KeyRef::Kind::Key;
    ref.id = k->get<std::string>();
  } else if (auto d = key_id.find("Derived"); d != key_id.end() && d->is_array() && d->size() == 2 &&
                                               (*d)[0].is_string() && (*d)[1].is_array()) {
    ref.kind = KeyRef::Kind::Derived;
    ref.base_handle = (*d)[0].get<std::string>();
    for (const auto& b : (*d)[1]) {
      if (!b.is_number_unsigned() || b.get<unsigned>() > 255) return invalid_handle();
      ref.derivation_data.push_back(static_cast<char>(b.get<unsigned>()));
    }
  } else {
    return invalid_handle();
  }
  return ref;
}

}  // namespace keyd
