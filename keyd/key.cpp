#include "keyd/key.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

namespace keyd {
namespace crypto = edge::crypto;
using edge::internal;
using edge::invalid;

Result<std::vector<KeyPairAlgorithm>> parse_preferred_algorithms(const std::string* text) {
  std::vector<KeyPairAlgorithm> out;
  std::string_view rest = text ? std::string_view(*text) : std::string_view("*");
  auto add = [&](KeyPairAlgorithm a) { out.push_back(a); };
  while (true) {
    auto colon = rest.find(':');
    auto item = rest.substr(0, colon);
    if (item == "ec-p256") add(KeyPairAlgorithm::EcP256);
    else if (item == "rsa-2048") add(KeyPairAlgorithm::Rsa2048);
    else if (item == "rsa-4096") add(KeyPairAlgorithm::Rsa4096);
    else if (item == "*") {
      add(KeyPairAlgorithm::EcP256);
      add(KeyPairAlgorithm::Rsa2048);
    }
    if (colon == std::string_view::npos) break;
    rest = rest.substr(colon + 1);
  }
  if (out.empty())
    return invalid("parameter \"preferredAlgorithms\" has an invalid value\ncaused by: no supported algorithm in \"" +
                   (text ? *text : std::string()) + "\"");
  return out;
}

Result<Usage> parse_usage(std::string_view text) {
  Usage u;
  while (true) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    if (item == "derive") u.derive = true;
    else if (item == "sign") u.sign = true;
    else if (item == "encrypt") u.encrypt = true;
    else return edge::fail(edge::ErrorKind::Unprocessable, "invalid key usage \"" + std::string(item) + "\"");
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return u;
}

Result<std::string> MemoryKey::hmac_sha256(std::string_view data) {
  return crypto::hmac_sha256(bytes_.view(), data);
}

Result<std::string> MemoryKey::encrypt(std::string_view iv, std::string_view aad,
                                       std::string_view plaintext) {
  if (bytes_.size() != 32) return invalid("key is not usable for AEAD (needs 32 bytes)");
  if (iv.empty()) return invalid("parameter \"iv\" must not be empty");
  crypto::CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string out(1 + plaintext.size() + 16, '\0');
  out[0] = 0x02;
  auto* o = reinterpret_cast<unsigned char*>(out.data()) + 1;
  if (!EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) ||
      !EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) ||
      !EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, bytes_.data(),
                          reinterpret_cast<const unsigned char*>(iv.data())) ||
      !EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                         static_cast<int>(aad.size())) ||
      !EVP_EncryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                         static_cast<int>(plaintext.size())) ||
      !EVP_EncryptFinal_ex(ctx.get(), o + len, &len) ||
      !EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, o + plaintext.size()))
    return internal("AES-GCM encryption failed: " + crypto::last_error());
  return out;
}

Result<std::string> MemoryKey::decrypt(std::string_view iv, std::string_view aad,
                                       std::string_view ciphertext) {
  if (bytes_.size() != 32) return invalid("key is not usable for AEAD (needs 32 bytes)");
  if (iv.empty()) return invalid("parameter \"iv\" must not be empty");
  if (ciphertext.size() < 17) return invalid("parameter \"ciphertext\" is too short");
  std::string_view body, tag;
  if (ciphertext[0] == 0x02) {
    body = ciphertext.substr(1, ciphertext.size() - 17);
    tag = ciphertext.substr(ciphertext.size() - 16);
  } else if (ciphertext[0] == 0x01) {
    tag = ciphertext.substr(1, 16);
    body = ciphertext.substr(17);
  } else {
    return invalid("parameter \"ciphertext\" has an unknown format version");
  }
  crypto::CipherCtx ctx(EVP_CIPHER_CTX_new());
  std::string out(body.size(), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int len = 0;
  if (!EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) ||
      !EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) ||
      !EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, bytes_.data(),
                          reinterpret_cast<const unsigned char*>(iv.data())) ||
      !EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                         static_cast<int>(aad.size())) ||
      !EVP_DecryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(body.data()),
                         static_cast<int>(body.size())) ||
      !EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16,
                           const_cast<char*>(tag.data())) ||
      EVP_DecryptFinal_ex(ctx.get(), o + len, &len) <= 0) {
    crypto::last_error();
    return invalid("could not decrypt: ciphertext, iv or aad do not match the key");
  }
  return out;
}

Result<crypto::PKey> MemoryKeyPair::public_key() {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key_.get(), &der);
  if (len <= 0) return internal("could not export public key: " + crypto::last_error());
  const unsigned char* p = der;
  crypto::PKey pub(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  if (!pub) return internal("could not import public key: " + crypto::last_error());
  return pub;
}

Result<std::string> MemoryKeyPair::sign_digest(std::string_view digest) {
  if (EVP_PKEY_get_base_id(key_.get()) != EVP_PKEY_EC)
    return invalid("parameter \"algorithm\" has an invalid value\ncaused by: ECDSA needs an EC key pair");
  if (digest.empty()) return invalid("parameter \"digest\" must not be empty");
  crypto::PKeyCtx ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  size_t len = 0;
  auto* d = reinterpret_cast<const unsigned char*>(digest.data());
  if (EVP_PKEY_sign_init(ctx.get()) <= 0 || EVP_PKEY_sign(ctx.get(), nullptr, &len, d, digest.size()) <= 0)
    return internal("ECDSA sign failed: " + crypto::last_error());
  std::string sig(len, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, d, digest.size()) <= 0)
    return internal("ECDSA sign failed: " + crypto::last_error());
  sig.resize(len);
  return sig;
}

Result<std::string> MemoryKeyPair::private_encrypt(std::string_view data, RsaPadding padding) {
  if (EVP_PKEY_get_base_id(key_.get()) != EVP_PKEY_RSA)
    return invalid("parameter \"algorithm\" has an invalid value\ncaused by: RSA encryption needs an RSA key pair");
  size_t modulus = static_cast<size_t>(EVP_PKEY_get_size(key_.get()));
  if (padding == RsaPadding::None && data.size() != modulus)
    return invalid("parameter \"plaintext\" must be exactly as long as the modulus for RSA-NO-PADDING");
  if (padding == RsaPadding::Pkcs1 && data.size() + 11 > modulus)
    return invalid("parameter \"plaintext\" is too long for the RSA key");
  crypto::PKeyCtx ctx(EVP_PKEY_CTX_new(key_.get(), nullptr));
  size_t len = modulus;
  std::string out(len, '\0');
  if (EVP_PKEY_sign_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), padding == RsaPadding::Pkcs1 ? RSA_PKCS1_PADDING
                                                                           : RSA_NO_PADDING) <= 0 ||
      EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                    reinterpret_cast<const unsigned char*>(data.data()), data.size()) <= 0)
    return invalid("RSA private-key operation failed: " + crypto::last_error());
  out.resize(len);
  return out;
}

Result<crypto::PKey> generate_key_pair(KeyPairAlgorithm algorithm) {
  EVP_PKEY* raw = nullptr;
  switch (algorithm) {
    case KeyPairAlgorithm::EcP256: raw = EVP_EC_gen("P-256"); break;
    case KeyPairAlgorithm::Rsa2048: raw = EVP_RSA_gen(2048); break;
    case KeyPairAlgorithm::Rsa4096: raw = EVP_RSA_gen(4096); break;
  }
  if (!raw) return internal("key generation failed: " + crypto::last_error());
  return crypto::PKey(raw);
}

Result<std::string> ecdsa_raw_to_der(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) return internal("malformed raw ECDSA signature");
  size_t half = raw.size() / 2;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + half, static_cast<int>(half), nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return internal("could not encode ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace keyd
