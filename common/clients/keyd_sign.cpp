#include "common/clients/keyd_sign.h"

#include <openssl/err.h>
#include <openssl/objects.h>

namespace edge::clients {
namespace {

// DER of a tag-length-value with a definite length.
std::string der_tlv(unsigned char tag, std::string_view content) {
  std::string out(1, static_cast<char>(tag));
  size_t n = content.size();
  if (n < 0x80) {
    out += static_cast<char>(n);
  } else {
    std::string len;
    for (; n > 0; n >>= 8) len.insert(len.begin(), static_cast<char>(n & 0xff));
    out += static_cast<char>(0x80 | len.size());
    out += len;
  }
  out.append(content);
  return out;
}

struct AlgorFree {
  void operator()(X509_ALGOR* a) const { X509_ALGOR_free(a); }
};
using Algor = std::unique_ptr<X509_ALGOR, AlgorFree>;

Result<int> key_type(EVP_PKEY* key) {
  int type = EVP_PKEY_get_base_id(key);
  if (type != EVP_PKEY_EC && type != EVP_PKEY_RSA)
    return invalid("keys of type " + std::string(OBJ_nid2sn(type)) +
                   " cannot sign (only EC and RSA)");
  return type;
}

// ecdsa-with-SHA256 (no parameters) or sha256WithRSAEncryption (NULL parameters).
void set_sha256_algorithm(X509_ALGOR* alg, int type) {
  if (type == EVP_PKEY_EC)
    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_ecdsa_with_SHA256), V_ASN1_UNDEF, nullptr);
  else
    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256WithRSAEncryption), V_ASN1_NULL, nullptr);
}

Result<std::string> sign_digest(int type, std::string_view digest, KeydClient& keyd,
                                const std::string& handle) {
  if (type == EVP_PKEY_EC) return keyd.sign_ecdsa(handle, digest);
  // PKCS#1 v1.5 signature = private-key operation over DigestInfo(SHA-256, digest).
  static constexpr unsigned char kSha256DigestInfo[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                        0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                        0x01, 0x05, 0x00, 0x04, 0x20};
  std::string info(reinterpret_cast<const char*>(kSha256DigestInfo), sizeof kSha256DigestInfo);
  info.append(digest);
  return keyd.rsa_private_encrypt(handle, info);
}

template <class F>
Result<std::string> encode(F&& i2d) {
  unsigned char* der = nullptr;
  int n = i2d(&der);
  if (n <= 0) return internal("could not encode: " + crypto::last_error());
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

std::unexpected<Error> mismatch() {
  return invalid(
      "the key behind the handle does not match the public key of the certificate it signs for");
}
}  // namespace

Result<crypto::X509Ptr> sign_certificate(X509* cert, EVP_PKEY* issuer_key, KeydClient& keyd,
                                         const std::string& handle) {
  int type = EDGE_TRY(key_type(issuer_key));
  // OpenSSL has no setter for the TBS signature algorithm without a private key; the field
  // belongs to `cert`, which we own, so writing through the const accessor is safe.
  set_sha256_algorithm(const_cast<X509_ALGOR*>(X509_get0_tbs_sigalg(cert)), type);
  auto tbs = EDGE_TRY(encode([&](unsigned char** p) { return i2d_re_X509_tbs(cert, p); }));
  auto signature = EDGE_TRY(sign_digest(type, crypto::sha256(tbs), keyd, handle));

  Algor alg(X509_ALGOR_new());
  if (!alg) return internal("out of memory");
  set_sha256_algorithm(alg.get(), type);
  auto alg_der = EDGE_TRY(encode([&](unsigned char** p) { return i2d_X509_ALGOR(alg.get(), p); }));
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
  std::string bits(1, '\0');  // no unused bits
  bits += signature;
  std::string der = der_tlv(0x30, tbs + alg_der + der_tlv(0x03, bits));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  crypto::X509Ptr signed_cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!signed_cert)
    return internal("could not assemble the signed certificate: " + crypto::last_error());
  if (X509_verify(signed_cert.get(), issuer_key) != 1) {
    ERR_clear_error();
    return mismatch();
  }
  return signed_cert;
}

Status sign_request(X509_REQ* req, EVP_PKEY* public_key, KeydClient& keyd,
                    const std::string& handle) {
  int type = EDGE_TRY(key_type(public_key));
  if (X509_REQ_set_pubkey(req, public_key) != 1) return internal("could not set the request's key");
  Algor alg(X509_ALGOR_new());
  if (!alg) return internal("out of memory");
  set_sha256_algorithm(alg.get(), type);
  if (X509_REQ_set1_signature_algo(req, alg.get()) != 1)
    return internal("could not set the signature algorithm");
  auto tbs = EDGE_TRY(encode([&](unsigned char** p) { return i2d_re_X509_REQ_tbs(req, p); }));
  auto signature = EDGE_TRY(sign_digest(type, crypto::sha256(tbs), keyd, handle));
  ASN1_BIT_STRING* bits = ASN1_BIT_STRING_new();
  if (!bits || ASN1_BIT_STRING_set(bits, reinterpret_cast<unsigned char*>(signature.data()),
                                   static_cast<int>(signature.size())) != 1) {
    ASN1_BIT_STRING_free(bits);
    return internal("out of memory");
  }
  bits->flags &= ~static_cast<long>(ASN1_STRING_FLAG_BITS_LEFT | 0x07);  // no unused bits
  bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  X509_REQ_set0_signature(req, bits);
  if (X509_REQ_verify(req, public_key) != 1) {
    ERR_clear_error();
    return mismatch();
  }
  return {};
}

}  // namespace edge::clients
