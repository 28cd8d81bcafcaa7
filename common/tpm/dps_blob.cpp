#include "common/tpm/dps_blob.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <cstring>

namespace tpm::dps {
using edge::internal;
using edge::invalid;
using edge::Result;
namespace crypto = edge::crypto;

namespace {

std::string be16(size_t v) {
  return std::string{static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
                     static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
}
std::string sized(std::string_view body) { return be16(body.size()) + std::string(body); }
std::string rc_text(TSS2_RC rc) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", rc);
  return buf;
}

Result<std::string> aes128_cfb(std::string_view key, std::string_view plain) {
  if (key.size() != 16) return internal("AES-128 key of wrong size");
  crypto::CipherCtx ctx(EVP_CIPHER_CTX_new());
  unsigned char iv[16] = {};
  std::string out(plain.size(), '\0');
  int len = 0, fin = 0;
  if (!EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_cfb128(), nullptr,
                          reinterpret_cast<const unsigned char*>(key.data()), iv) ||
      !EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                         reinterpret_cast<const unsigned char*>(plain.data()),
                         static_cast<int>(plain.size())) ||
      !EVP_EncryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &fin))
    return internal("AES-128-CFB failed: " + crypto::last_error());
  return out;
}

// RSA-OAEP (SHA-256, MGF1-SHA-256) with a TPM label such as "IDENTITY" (the NUL is part of it).
Result<std::string> oaep_encrypt(EVP_PKEY* key, std::string_view data, const char* label) {
  crypto::PKeyCtx ctx(EVP_PKEY_CTX_new(key, nullptr));
  size_t label_len = std::strlen(label) + 1;
  auto* l = static_cast<unsigned char*>(OPENSSL_malloc(label_len));
  std::memcpy(l, label, label_len);
  if (EVP_PKEY_encrypt_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), EVP_sha256()) <= 0 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), l, static_cast<int>(label_len)) <= 0) {
    return internal("RSA-OAEP set-up failed: " + crypto::last_error());
  }
  size_t len = 0;
  auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, in, data.size()) <= 0)
    return internal("RSA-OAEP failed: " + crypto::last_error());
  std::string out(len, '\0');
  if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, in,
                       data.size()) <= 0)
    return internal("RSA-OAEP failed: " + crypto::last_error());
  out.resize(len);
  return out;
}

Result<TPMT_PUBLIC> parse_public(std::string_view bytes, const char* what) {
  size_t off = 0;
  TPM2B_PUBLIC pub{};
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              bytes.size(), &off, &pub);
  if (rc != TSS2_RC_SUCCESS || off != bytes.size())
    return invalid(std::string(what) + " is not a marshaled TPM2B_PUBLIC");
  return pub.publicArea;
}

Result<std::string> marshal_tpmt_public(const TPMT_PUBLIC& pub) {
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf, sizeof buf, &off);
  if (rc != TSS2_RC_SUCCESS) return internal("marshaling TPMT_PUBLIC failed: " + rc_text(rc));
  return std::string(reinterpret_cast<char*>(buf), off);
}

}  // namespace

std::string kdfa_sha256(std::string_view key, std::string_view label, std::string_view context_u,
                        std::string_view context_v, size_t bits) {
  size_t bytes = (bits + 7) / 8;
  std::string out;
  for (uint32_t i = 1; out.size() < bytes; ++i) {
    std::string msg = be32(i) + std::string(label) + std::string(1, '\0') + std::string(context_u) +
                      std::string(context_v) + be32(static_cast<uint32_t>(bits));
    out += crypto::hmac_sha256(key, msg).value_or(std::string());
  }
  out.resize(bytes);
  return out;
}

Result<std::string> object_name(const TPMT_PUBLIC& pub) {
  if (pub.nameAlg != TPM2_ALG_SHA256) return invalid("only SHA-256 names are supported");
  auto m = EDGE_TRY(marshal_tpmt_public(pub));
  return be16(TPM2_ALG_SHA256) + crypto::sha256(m);
}

Result<crypto::PKey> to_pkey(const TPMT_PUBLIC& pub) {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  const char* type = nullptr;
  std::string point;
  if (pub.type == TPM2_ALG_RSA) {
    type = "RSA";
    n = BN_bin2bn(pub.unique.rsa.buffer, pub.unique.rsa.size, nullptr);
    e = BN_new();
    BN_set_word(e, pub.parameters.rsaDetail.exponent ? pub.parameters.rsaDetail.exponent : 65537);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  } else if (pub.type == TPM2_ALG_ECC && pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 &&
             pub.unique.ecc.x.size <= 32 && pub.unique.ecc.y.size <= 32) {
    type = "EC";
    point = std::string(1, '\x04');
    point +=
        std::string(32 - pub.unique.ecc.x.size, '\0') +
        std::string(reinterpret_cast<const char*>(pub.unique.ecc.x.buffer), pub.unique.ecc.x.size);
    point +=
        std::string(32 - pub.unique.ecc.y.size, '\0') +
        std::string(reinterpret_cast<const char*>(pub.unique.ecc.y.buffer), pub.unique.ecc.y.size);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  } else {
    OSSL_PARAM_BLD_free(bld);
    return invalid("unsupported TPM public key type");
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  bool ok = ctx && EVP_PKEY_fromdata_init(ctx) > 0 &&
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) > 0;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  if (!ok)
    return invalid("could not build a public key from the TPM public area: " +
                   crypto::last_error());
  return crypto::PKey(key);
}

Result<std::string> make_auth_key_blob(std::string_view ek_public, std::string_view srk_public,
                                       const edge::Secret& hmac_key) {
  auto ek = EDGE_TRY(parse_public(ek_public, "the endorsement key"));
  auto srk = EDGE_TRY(parse_public(srk_public, "the storage root key"));
  if (ek.type != TPM2_ALG_RSA || srk.type != TPM2_ALG_RSA || ek.nameAlg != TPM2_ALG_SHA256 ||
      srk.nameAlg != TPM2_ALG_SHA256)
    return invalid(
        "the endorsement key and the storage root key must be RSA keys with SHA-256 names");
  if (hmac_key.empty() || hmac_key.size() > 128)
    return invalid("the HMAC key must be 1..128 bytes");
  auto ek_key = EDGE_TRY(to_pkey(ek));
  auto srk_key = EDGE_TRY(to_pkey(srk));
  auto srk_name = EDGE_TRY(object_name(srk));

  // The auth key's public and sensitive areas.
  edge::Secret obfuscation(EDGE_TRY(crypto::random_bytes(32)));
  TPMT_PUBLIC pub{};
  pub.type = TPM2_ALG_KEYEDHASH;
  pub.nameAlg = TPM2_ALG_SHA256;
  pub.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_NODA;
  pub.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
  pub.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
  std::string unique =
      crypto::sha256(std::string(obfuscation.view()) + std::string(hmac_key.view()));
  pub.unique.keyedHash.size = 32;
  std::memcpy(pub.unique.keyedHash.buffer, unique.data(), 32);
  auto pub_bytes = EDGE_TRY(marshal_tpmt_public(pub));
  auto name = EDGE_TRY(object_name(pub));

  TPMT_SENSITIVE sens{};
  sens.sensitiveType = TPM2_ALG_KEYEDHASH;
  sens.seedValue.size = 32;
  std::memcpy(sens.seedValue.buffer, obfuscation.data(), 32);
  sens.sensitive.bits.size = static_cast<UINT16>(hmac_key.size());
  std::memcpy(sens.sensitive.bits.buffer, hmac_key.data(), hmac_key.size());
  uint8_t sbuf[sizeof(TPMT_SENSITIVE)];
  size_t soff = 0;
  TSS2_RC rc = Tss2_MU_TPMT_SENSITIVE_Marshal(&sens, sbuf, sizeof sbuf, &soff);
  ::explicit_bzero(&sens, sizeof sens);
  if (rc != TSS2_RC_SUCCESS) return internal("marshaling TPMT_SENSITIVE failed: " + rc_text(rc));
  edge::Secret sens2b(sized(std::string_view(reinterpret_cast<char*>(sbuf), soff)));
  ::explicit_bzero(sbuf, sizeof sbuf);

  // Inner wrap: AES-128-CFB with a fresh key that reaches the TPM only through the credential.
  edge::Secret inner_key(EDGE_TRY(crypto::random_bytes(16)));
  std::string inner_integrity = crypto::sha256(std::string(sens2b.view()) + name);
  edge::Secret inner_plain(sized(inner_integrity) + std::string(sens2b.view()));
  auto enc_inner = EDGE_TRY(aes128_cfb(inner_key.view(), inner_plain.view()));

  // Outer wrap for the SRK.
  edge::Secret seed(EDGE_TRY(crypto::random_bytes(32)));
  auto enc_seed = EDGE_TRY(oaep_encrypt(srk_key.get(), seed.view(), "DUPLICATE"));
  edge::Secret sym_key(kdfa_sha256(seed.view(), "STORAGE", name, "", 128));
  auto dup_sensitive = EDGE_TRY(aes128_cfb(sym_key.view(), enc_inner));
  edge::Secret hmac_key_outer(kdfa_sha256(seed.view(), "INTEGRITY", "", "", 256));
  auto outer_hmac = EDGE_TRY(crypto::hmac_sha256(hmac_key_outer.view(), dup_sensitive + name));
  std::string duplicate = sized(sized(outer_hmac) + dup_sensitive);

  // The credential: the inner key, for the EK, bound to the SRK's name (TPM2_MakeCredential).
  edge::Secret cred_seed(EDGE_TRY(crypto::random_bytes(32)));
  auto secret = EDGE_TRY(oaep_encrypt(ek_key.get(), cred_seed.view(), "IDENTITY"));
  edge::Secret cred_sym(kdfa_sha256(cred_seed.view(), "STORAGE", srk_name, "", 128));
  edge::Secret cred_plain(sized(inner_key.view()));
  auto enc_identity = EDGE_TRY(aes128_cfb(cred_sym.view(), cred_plain.view()));
  edge::Secret cred_hmac_key(kdfa_sha256(cred_seed.view(), "INTEGRITY", "", "", 256));
  auto cred_hmac = EDGE_TRY(crypto::hmac_sha256(cred_hmac_key.view(), enc_identity + srk_name));
  std::string id_object = sized(sized(cred_hmac) + enc_identity);

  return id_object + sized(secret) + duplicate + sized(enc_seed) + sized(pub_bytes);
}

edge::Status check_rsa_public(std::string_view bytes, const char* what) {
  auto pub = EDGE_TRY(parse_public(bytes, what));
  if (pub.type != TPM2_ALG_RSA || pub.nameAlg != TPM2_ALG_SHA256)
    return invalid(std::string(what) + " must be an RSA key with a SHA-256 name");
  return {};
}

Result<AuthKeyChallenge> make_auth_key_challenge(std::string_view ek_public,
                                                 std::string_view srk_public) {
  AuthKeyChallenge c;
  c.key = edge::Secret(EDGE_TRY(crypto::random_bytes(32)));
  c.blob = EDGE_TRY(make_auth_key_blob(ek_public, srk_public, c.key));
  return c;
}

}  // namespace tpm::dps
