// The legacy key-method API is deprecated in OpenSSL 3 but still the supported way to make a
// key whose private operations happen elsewhere without writing a provider.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "identityd/keyd_key.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <cstring>
#include <mutex>

#include "common/base64.h"
#include "identityd/clients.h"

namespace identityd {
namespace {

struct KeyRef {
  std::string socket;
  std::string handle;
};

void free_ref(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<KeyRef*>(ptr);
}

int ec_index() {
  static int index = EC_KEY_get_ex_new_index(0, nullptr, nullptr, nullptr, free_ref);
  return index;
}
int rsa_index() {
  static int index = RSA_get_ex_new_index(0, nullptr, nullptr, nullptr, free_ref);
  return index;
}

ECDSA_SIG* ec_sign_sig(const unsigned char* dgst, int dlen, const BIGNUM*, const BIGNUM*,
                       EC_KEY* eckey) {
  auto* ref = static_cast<KeyRef*>(EC_KEY_get_ex_data(eckey, ec_index()));
  if (!ref) return nullptr;
  // keyd signs a digest no longer than the curve order, as upstream's engine truncates.
  size_t len = std::min<size_t>(static_cast<size_t>(dlen), 32);
  KeyClient keys(ref->socket);
  auto der =
      keys.sign_ecdsa(ref->handle, std::string_view(reinterpret_cast<const char*>(dgst), len));
  if (!der) return nullptr;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
  return d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der->size()));
}

int ec_sign(int type, const unsigned char* dgst, int dlen, unsigned char* sig, unsigned int* siglen,
            const BIGNUM* kinv, const BIGNUM* r, EC_KEY* eckey) {
  (void)type;
  ECDSA_SIG* s = ec_sign_sig(dgst, dlen, kinv, r, eckey);
  if (!s) return 0;
  int n = i2d_ECDSA_SIG(s, &sig);
  ECDSA_SIG_free(s);
  if (n <= 0) return 0;
  *siglen = static_cast<unsigned>(n);
  return 1;
}

int ec_sign_setup(EC_KEY*, BN_CTX*, BIGNUM**, BIGNUM**) { return 1; }

int rsa_priv_enc(int flen, const unsigned char* from, unsigned char* to, RSA* rsa, int padding) {
  auto* ref = static_cast<KeyRef*>(RSA_get_ex_data(rsa, rsa_index()));
  if (!ref) return -1;
  const char* algorithm = padding == RSA_PKCS1_PADDING ? "RSA-PKCS1"
                          : padding == RSA_NO_PADDING  ? "RSA-NO-PADDING"
                                                       : nullptr;
  if (!algorithm) return -1;
  KeyClient keys(ref->socket);
  auto out = keys.encrypt_rsa(
      ref->handle, algorithm,
      std::string_view(reinterpret_cast<const char*>(from), static_cast<size_t>(flen)));
  if (!out || out->size() != static_cast<size_t>(RSA_size(rsa))) return -1;
  std::memcpy(to, out->data(), out->size());
  return static_cast<int>(out->size());
}

const EC_KEY_METHOD* ec_method() {
  static EC_KEY_METHOD* m = [] {
    EC_KEY_METHOD* meth = EC_KEY_METHOD_new(EC_KEY_get_default_method());
    EC_KEY_METHOD_set_sign(meth, ec_sign, ec_sign_setup, ec_sign_sig);
    return meth;
  }();
  return m;
}
const RSA_METHOD* rsa_method() {
  static RSA_METHOD* m = [] {
    RSA_METHOD* meth = RSA_meth_dup(RSA_get_default_method());
    RSA_meth_set1_name(meth, "keyd");
    RSA_meth_set_priv_enc(meth, rsa_priv_enc);
    return meth;
  }();
  return m;
}

BIGNUM* bn(const std::string& bytes) {
  return BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                   static_cast<int>(bytes.size()), nullptr);
}
}  // namespace

edge::Result<edge::crypto::PKey> keyd_private_key(const std::string& socket,
                                                  const std::string& handle) {
  KeyClient keys(socket);
  auto algorithm = EDGE_TRY(keys.parameter(handle, "algorithm"));
  auto param = [&](const char* name) -> edge::Result<std::string> {
    auto v = EDGE_TRY(keys.parameter(handle, name));
    auto bytes = edge::base64::decode(v);
    if (!bytes) return edge::internal(std::string("keyd parameter ") + name + " is not base64");
    return *bytes;
  };
  edge::crypto::PKey pkey(EVP_PKEY_new());
  if (algorithm == "ECDSA") {
    auto point = EDGE_TRY(param("ec-point"));
    EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT* pt = EC_POINT_new(EC_KEY_get0_group(ec));
    bool ok = EC_POINT_oct2point(EC_KEY_get0_group(ec), pt,
                                 reinterpret_cast<const unsigned char*>(point.data()), point.size(),
                                 nullptr) == 1 &&
              EC_KEY_set_public_key(ec, pt) == 1;
    EC_POINT_free(pt);
    if (!ok) {
      EC_KEY_free(ec);
      return edge::internal("keyd returned an invalid EC point");
    }
    EC_KEY_set_method(ec, ec_method());
    EC_KEY_set_ex_data(ec, ec_index(), new KeyRef{socket, handle});
    EVP_PKEY_assign_EC_KEY(pkey.get(), ec);
  } else if (algorithm == "RSA") {
    auto n = EDGE_TRY(param("rsa-modulus"));
    auto e = EDGE_TRY(param("rsa-exponent"));
    RSA* rsa = RSA_new_method(nullptr);
    RSA_set_method(rsa, rsa_method());
    RSA_set0_key(rsa, bn(n), bn(e), nullptr);
    RSA_set_ex_data(rsa, rsa_index(), new KeyRef{socket, handle});
    EVP_PKEY_assign_RSA(pkey.get(), rsa);
  } else {
    return edge::internal("keyd key pair of unknown algorithm " + algorithm);
  }
  return pkey;
}

}  // namespace identityd
