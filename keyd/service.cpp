#include "keyd/service.h"

#include "common/base64.h"

namespace keyd {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;
using edge::http::Json;
using edge::http::Request;
using edge::http::Response;
namespace http = edge::http;

namespace {
const edge::http::ApiRange kAll{"2020-09-01", ""};

Response handle_response(const std::string& handle) {
  return Response::json(200, Json{{"keyHandle", handle}});
}

// Key lookups report a missing key as an invalid parameter (400), as upstream.
template <class T>
Result<T> as_parameter_error(Result<T> r) {
  if (!r && r.error().kind == ErrorKind::NotFound) return invalid(r.error().message);
  return r;
}
edge::Status as_parameter_error(edge::Status r) {
  if (!r && r.error().kind == ErrorKind::NotFound) return invalid(r.error().message);
  return r;
}

Result<std::string> public_parameter(const crypto::PublicKey& key, const std::string& name) {
  bool ec = key.type == crypto::PublicKey::Type::Ec;
  if (name == "algorithm") return std::string(ec ? "ECDSA" : "RSA");
  if (ec && name == "ec-curve-oid") return edge::base64::encode(key.ec_curve_oid);
  if (ec && name == "ec-point") {
    // Compressed form, as upstream returns it.
    auto point = key.compressed_ec_point();
    if (point.empty()) return edge::internal("could not encode the EC point");
    return edge::base64::encode(point);
  }
  if (!ec && name == "rsa-modulus") return edge::base64::encode(key.rsa_modulus);
  if (!ec && name == "rsa-exponent") return edge::base64::encode(key.rsa_exponent);
  return invalid("parameter \"type\" has an invalid value\ncaused by: unknown parameter \"" + name +
                 "\" for this key");
}
}  // namespace

Service::Service(Config config, std::unique_ptr<KeyStore> store)
    : config_(std::move(config)), store_(std::move(store)), router_({"2020-09-01", "2021-05-01"}) {
  add_routes();
}

edge::Status Service::authorize(uid_t uid, const std::string& id) const {
  if (authorized(config_, uid, id)) return {};
  return fail(ErrorKind::Unauthorized,
              "user " + std::to_string(uid) + " is not authorized to access the key " + id);
}

Result<std::string> Service::issue(const KeyRef& ref) {
  auto* validation = EDGE_TRY(store_->handle_validation_key());
  return issue_handle(*validation, ref);
}

Result<KeyRef> Service::verify(const std::string& handle) {
  auto* validation = EDGE_TRY(store_->handle_validation_key());
  return verify_handle(*validation, handle);
}

Result<std::shared_ptr<KeyPair>> Service::key_pair_for(const std::string& handle) {
  auto ref = EDGE_TRY(verify(handle));
  if (ref.kind != KeyRef::Kind::KeyPair)
    return invalid("parameter \"handle\" has an invalid value\ncaused by: the handle is not for a key pair");
  return as_parameter_error(store_->load_key_pair(ref.id));
}

Result<std::shared_ptr<SymmetricKey>> Service::symmetric_key_for(const std::string& handle) {
  auto ref = EDGE_TRY(verify(handle));
  if (ref.kind == KeyRef::Kind::Key) return as_parameter_error(store_->load_key(ref.id));
  if (ref.kind != KeyRef::Kind::Derived)
    return invalid("parameter \"handle\" has an invalid value\ncaused by: the handle is not for a symmetric key");
  auto base_ref = EDGE_TRY(verify(ref.base_handle));
  if (base_ref.kind != KeyRef::Kind::Key)
    return invalid("parameter \"handle\" has an invalid value\ncaused by: nested derived keys are not supported");
  auto base = EDGE_TRY(as_parameter_error(store_->load_key(base_ref.id)));
  Secret derived(EDGE_TRY(base->hmac_sha256(ref.derivation_data)));
  return std::shared_ptr<SymmetricKey>(new MemoryKey(std::move(derived)));
}

void Service::add_routes() {
  auto& r = router_;

  r.add("POST", "/key", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto id = EDGE_TRY(http::string_field(*body, "keyId"));
    auto usage = EDGE_TRY(parse_usage(EDGE_TRY(http::string_field(*body, "usage"))));
    bool import = body->contains("keyBytes");
    Secret bytes(import ? EDGE_TRY(http::bytes_field(*body, "keyBytes")) : std::string());
    EDGE_TRY_VOID(validate_key_id(id));
    EDGE_TRY_VOID(authorize(req.peer.uid, id));
    if (import) {
      if (bytes.empty()) return invalid("parameter \"keyBytes\" has an invalid value\ncaused by: empty key");
      EDGE_TRY_VOID(store_->import_key(id, bytes, usage));
    } else {
      EDGE_TRY_VOID(store_->create_key_if_not_exists(id, usage));
    }
    return handle_response(EDGE_TRY(issue({KeyRef::Kind::Key, id, {}, {}})));
  });

  r.add("GET", "/key/{keyId}", kAll, [this](Request& req) -> Result<Response> {
    const auto& id = req.params["keyId"];
    EDGE_TRY_VOID(validate_key_id(id));
    EDGE_TRY_VOID(authorize(req.peer.uid, id));
    EDGE_TRY(as_parameter_error(store_->load_key(id)));
    return handle_response(EDGE_TRY(issue({KeyRef::Kind::Key, id, {}, {}})));
  });

  r.add("DELETE", "/key", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto ref = EDGE_TRY(verify(EDGE_TRY(http::string_field(*body, "keyHandle"))));
    if (ref.kind != KeyRef::Kind::Key)
      return invalid("parameter \"handle\" has an invalid value\ncaused by: the handle is not for a symmetric key");
    EDGE_TRY_VOID(store_->delete_key(ref.id));
    return Response::empty(204);
  });

  // Upstream serves POST /key/{id} on the same route as the key-pair move and rejects it.
  r.add("POST", "/key/{keyId}", kAll, [](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto from = EDGE_TRY(http::string_field(*body, "from"));
    if (from == req.params["keyId"]) return invalid("source and destination for move are identical");
    return invalid("invalid type \"key\"");
  });

  r.add("POST", "/keypair", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto id = EDGE_TRY(http::string_field(*body, "keyId"));
    auto prefs_text = EDGE_TRY(http::optional_string_field(*body, "preferredAlgorithms"));
    auto prefs = EDGE_TRY(parse_preferred_algorithms(prefs_text ? &*prefs_text : nullptr));
    EDGE_TRY_VOID(validate_key_id(id));
    EDGE_TRY_VOID(authorize(req.peer.uid, id));
    EDGE_TRY_VOID(store_->create_key_pair_if_not_exists(id, prefs));
    return handle_response(EDGE_TRY(issue({KeyRef::Kind::KeyPair, id, {}, {}})));
  });

  r.add("GET", "/keypair/{keyPairId}", kAll, [this](Request& req) -> Result<Response> {
    const auto& id = req.params["keyPairId"];
    EDGE_TRY_VOID(validate_key_id(id));
    EDGE_TRY_VOID(authorize(req.peer.uid, id));
    EDGE_TRY(as_parameter_error(store_->load_key_pair(id)));
    return handle_response(EDGE_TRY(issue({KeyRef::Kind::KeyPair, id, {}, {}})));
  });

  r.add("POST", "/keypair/{keyPairId}", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto from = EDGE_TRY(http::string_field(*body, "from"));
    const auto& to = req.params["keyPairId"];
    if (from == to) return invalid("source and destination for move are identical");
    EDGE_TRY_VOID(validate_key_id(to));
    EDGE_TRY_VOID(validate_key_id(from));
    EDGE_TRY_VOID(authorize(req.peer.uid, from));
    EDGE_TRY_VOID(authorize(req.peer.uid, to));
    EDGE_TRY_VOID(as_parameter_error(store_->move_key_pair(from, to)));
    return Response::empty(204);
  });

  r.add("DELETE", "/keypair", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto ref = EDGE_TRY(verify(EDGE_TRY(http::string_field(*body, "keyHandle"))));
    if (ref.kind != KeyRef::Kind::KeyPair)
      return invalid("parameter \"handle\" has an invalid value\ncaused by: the handle is not for a key pair");
    EDGE_TRY_VOID(store_->delete_key_pair(ref.id));
    return Response::empty(204);
  });

  r.add("POST", "/parameters/{parameterName}", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto key = EDGE_TRY(key_pair_for(EDGE_TRY(http::string_field(*body, "keyHandle"))));
    auto pub = EDGE_TRY(key->public_key());
    auto value = EDGE_TRY(public_parameter(pub, req.params["parameterName"]));
    return Response::json(200, Json{{"value", value}});
  });

  r.add("POST", "/derivedkey", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto base = EDGE_TRY(http::string_field(*body, "baseKeyHandle"));
    auto data = EDGE_TRY(http::bytes_field(*body, "derivationData"));
    auto base_ref = EDGE_TRY(verify(base));
    if (base_ref.kind == KeyRef::Kind::Derived)
      return invalid("parameter \"baseKeyHandle\" has an invalid value\ncaused by: nested derived keys are not supported");
    if (base_ref.kind != KeyRef::Kind::Key)
      return invalid("parameter \"baseKeyHandle\" has an invalid value\ncaused by: the handle is not for a symmetric key");
    KeyRef ref{KeyRef::Kind::Derived, {}, base, data};
    return handle_response(EDGE_TRY(issue(ref)));
  });

  r.add("POST", "/derivedkey/export", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto handle = EDGE_TRY(http::string_field(*body, "keyHandle"));
    auto ref = EDGE_TRY(verify(handle));
    if (ref.kind != KeyRef::Kind::Derived)
      return invalid("parameter \"handle\" has an invalid value\ncaused by: only derived keys can be exported");
    auto key = EDGE_TRY(symmetric_key_for(handle));
    const auto& bytes = static_cast<MemoryKey&>(*key).bytes();
    return Response::json(200, Json{{"key", edge::base64::encode(bytes.view())}});
  });

  r.add("POST", "/sign", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto handle = EDGE_TRY(http::string_field(*body, "keyHandle"));
    auto algorithm = EDGE_TRY(http::string_field(*body, "algorithm"));
    auto* params = EDGE_TRY(http::object_field(*body, "parameters"));
    std::string signature;
    if (algorithm == "ECDSA") {
      auto digest = EDGE_TRY(http::bytes_field(*params, "digest"));
      signature = EDGE_TRY(EDGE_TRY(key_pair_for(handle))->sign_digest(digest));
    } else if (algorithm == "HMAC-SHA256") {
      auto message = EDGE_TRY(http::bytes_field(*params, "message"));
      signature = EDGE_TRY(EDGE_TRY(symmetric_key_for(handle))->hmac_sha256(message));
    } else {
      return fail(ErrorKind::Unprocessable, "unknown signature algorithm \"" + algorithm + "\"");
    }
    return Response::json(200, Json{{"signature", edge::base64::encode(signature)}});
  });

  r.add("POST", "/encrypt", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto handle = EDGE_TRY(http::string_field(*body, "keyHandle"));
    auto algorithm = EDGE_TRY(http::string_field(*body, "algorithm"));
    auto plaintext = EDGE_TRY(http::bytes_field(*body, "plaintext"));
    std::string ciphertext;
    if (algorithm == "AEAD") {
      auto* params = EDGE_TRY(http::object_field(*body, "parameters"));
      auto iv = EDGE_TRY(http::bytes_field(*params, "iv"));
      auto aad = EDGE_TRY(http::bytes_field(*params, "aad"));
      ciphertext = EDGE_TRY(EDGE_TRY(symmetric_key_for(handle))->encrypt(iv, aad, plaintext));
    } else if (algorithm == "RSA-PKCS1" || algorithm == "RSA-NO-PADDING") {
      auto padding = algorithm == "RSA-PKCS1" ? RsaPadding::Pkcs1 : RsaPadding::None;
      ciphertext = EDGE_TRY(EDGE_TRY(key_pair_for(handle))->private_encrypt(plaintext, padding));
    } else {
      return fail(ErrorKind::Unprocessable, "unknown encryption algorithm \"" + algorithm + "\"");
    }
    return Response::json(200, Json{{"ciphertext", edge::base64::encode(ciphertext)}});
  });

  r.add("POST", "/decrypt", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto handle = EDGE_TRY(http::string_field(*body, "keyHandle"));
    auto algorithm = EDGE_TRY(http::string_field(*body, "algorithm"));
    auto ciphertext = EDGE_TRY(http::bytes_field(*body, "ciphertext"));
    if (algorithm != "AEAD") {
      if (algorithm == "RSA-PKCS1" || algorithm == "RSA-NO-PADDING")
        return invalid("parameter \"algorithm\" has an invalid value\ncaused by: decryption supports only AEAD");
      return fail(ErrorKind::Unprocessable, "unknown encryption algorithm \"" + algorithm + "\"");
    }
    auto* params = EDGE_TRY(http::object_field(*body, "parameters"));
    auto iv = EDGE_TRY(http::bytes_field(*params, "iv"));
    auto aad = EDGE_TRY(http::bytes_field(*params, "aad"));
    auto plaintext = EDGE_TRY(EDGE_TRY(symmetric_key_for(handle))->decrypt(iv, aad, ciphertext));
    return Response::json(200, Json{{"plaintext", edge::base64::encode(plaintext)}});
  });
}

}  // namespace keyd
