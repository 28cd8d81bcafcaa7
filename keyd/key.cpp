#include "keyd/key.h"

namespace keyd {
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
  std::string tag;
  auto body = EDGE_TRY(crypto::aes256_gcm_encrypt(bytes_, iv, aad, plaintext, tag));
  return std::string(1, '\x02') + body + tag;
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
  return crypto::aes256_gcm_decrypt(bytes_, iv, aad, body, tag);
}

Result<crypto::PublicKey> MemoryKeyPair::public_key() { return key_.public_key(); }

Result<std::string> MemoryKeyPair::sign_digest(std::string_view digest) {
  if (!key_.is_ec())
    return invalid("parameter \"algorithm\" has an invalid value\ncaused by: ECDSA needs an EC key pair");
  if (digest.empty()) return invalid("parameter \"digest\" must not be empty");
  return key_.ecdsa_sign(digest);
}

Result<std::string> MemoryKeyPair::private_encrypt(std::string_view data, RsaPadding padding) {
  if (!key_.is_rsa())
    return invalid("parameter \"algorithm\" has an invalid value\ncaused by: RSA encryption needs an RSA key pair");
  size_t modulus = key_.rsa_modulus_size();
  if (padding == RsaPadding::None && data.size() != modulus)
    return invalid("parameter \"plaintext\" must be exactly as long as the modulus for RSA-NO-PADDING");
  if (padding == RsaPadding::Pkcs1 && data.size() + 11 > modulus)
    return invalid("parameter \"plaintext\" is too long for the RSA key");
  return key_.rsa_private(data, padding == RsaPadding::Pkcs1);
}

Result<crypto::PrivateKey> generate_key_pair(KeyPairAlgorithm algorithm) {
  switch (algorithm) {
    case KeyPairAlgorithm::EcP256: return crypto::PrivateKey::generate(crypto::KeyType::EcP256);
    case KeyPairAlgorithm::Rsa2048: return crypto::PrivateKey::generate(crypto::KeyType::Rsa2048);
    case KeyPairAlgorithm::Rsa4096: return crypto::PrivateKey::generate(crypto::KeyType::Rsa4096);
  }
  return internal("unknown key algorithm");
}

}  // namespace keyd
