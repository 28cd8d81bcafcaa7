#include "common/clients/keyd_client.h"

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "common/base64.h"
#include "common/uri.h"

namespace edge::clients {
namespace {
using http::Json;

Error keyd_error(const http::ClientResponse& r) {
  std::string message = "keyd: " + r.message();
  if (r.status == 400) return Error{ErrorKind::InvalidParameter, message};
  if (r.status == 401) return Error{ErrorKind::Unauthorized, message};
  return Error{ErrorKind::Internal, message + " (HTTP " + std::to_string(r.status) + ")"};
}

Result<std::string> string_member(const Json& j, const char* name) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_string())
    return internal(std::string("keyd: response has no string \"") + name + "\"");
  return j[name].get<std::string>();
}

Result<std::string> bytes_member(const Json& j, const char* name) {
  auto text = EDGE_TRY(string_member(j, name));
  auto bytes = base64::decode(text);
  if (!bytes) return internal(std::string("keyd: response field \"") + name + "\" is not base64");
  return std::move(*bytes);
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;
Bn to_bn(std::string_view bytes) {
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                      static_cast<int>(bytes.size()), nullptr));
}
}  // namespace

KeydClient::KeydClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

Result<Json> KeydClient::call(const std::string& method, const std::string& path,
                              const std::optional<Json>& body) {
  std::unique_ptr<http::UnixClient> client;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      client = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!client) client = std::make_unique<http::UnixClient>(socket_path_);
  auto r = client->request(method, path + "?api-version=" + kApiVersion, body);
  if (!r) return fail(r.error().kind, "keyd: " + r.error().message);
  {
    std::lock_guard lock(mutex_);
    if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(client));
  }
  if (r->status < 200 || r->status > 299) return fail(keyd_error(*r));
  if (r->body.empty()) return Json();
  auto json = r->json();
  if (!json) return internal("keyd: malformed response: " + json.error().message);
  return std::move(*json);
}

Result<std::string> KeydClient::create_key_pair_if_not_exists(
    const std::string& id, const std::string& preferred_algorithms) {
  auto j = EDGE_TRY(
      call("POST", "/keypair", Json{{"keyId", id}, {"preferredAlgorithms", preferred_algorithms}}));
  return string_member(j, "keyHandle");
}

Result<std::string> KeydClient::load_key_pair(const std::string& id) {
  auto j = EDGE_TRY(call("GET", "/keypair/" + uri::percent_encode(id), std::nullopt));
  return string_member(j, "keyHandle");
}

Status KeydClient::delete_key_pair(const std::string& handle) {
  EDGE_TRY(call("DELETE", "/keypair", Json{{"keyHandle", handle}}));
  return {};
}

Result<std::string> KeydClient::parameter(const std::string& handle, const std::string& name) {
  auto j = EDGE_TRY(call("POST", "/parameters/" + name, Json{{"keyHandle", handle}}));
  if (name == "algorithm") return string_member(j, "value");
  return bytes_member(j, "value");
}

Result<crypto::PKey> KeydClient::public_key(const std::string& handle) {
  auto algorithm = EDGE_TRY(parameter(handle, "algorithm"));
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  Bn n, e;
  std::string point;
  const char* type = nullptr;
  if (algorithm == "ECDSA") {
    auto oid_der = EDGE_TRY(parameter(handle, "ec-curve-oid"));
    const auto* p = reinterpret_cast<const unsigned char*>(oid_der.data());
    ASN1_OBJECT* oid = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(oid_der.size()));
    int nid = oid ? OBJ_obj2nid(oid) : NID_undef;
    ASN1_OBJECT_free(oid);
    if (nid == NID_undef) return internal("keyd: unknown EC curve");
    point = EDGE_TRY(parameter(handle, "ec-point"));
    type = "EC";
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                     point.size());
  } else if (algorithm == "RSA") {
    n = to_bn(EDGE_TRY(parameter(handle, "rsa-modulus")));
    e = to_bn(EDGE_TRY(parameter(handle, "rsa-exponent")));
    type = "RSA";
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  } else {
    return internal("keyd: unknown key algorithm \"" + algorithm + "\"");
  }
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 OSSL_PARAM_free);
  crypto::PKeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return internal("keyd: could not rebuild the public key: " + crypto::last_error());
  return crypto::PKey(key);
}

Result<std::string> KeydClient::sign_ecdsa(const std::string& handle, std::string_view digest) {
  auto j = EDGE_TRY(call("POST", "/sign",
                         Json{{"keyHandle", handle},
                              {"algorithm", "ECDSA"},
                              {"parameters", {{"digest", base64::encode(digest)}}}}));
  return bytes_member(j, "signature");
}

Result<std::string> KeydClient::rsa_private_encrypt(const std::string& handle,
                                                    std::string_view data) {
  auto j = EDGE_TRY(call(
      "POST", "/encrypt",
      Json{
          {"keyHandle", handle}, {"algorithm", "RSA-PKCS1"}, {"plaintext", base64::encode(data)}}));
  return bytes_member(j, "ciphertext");
}

}  // namespace edge::clients
