// What a key can do, independent of where it lives (file, PKCS#11 token, TPM).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret.h"
#include "keyd/crypto.h"

namespace keyd {

using edge::Result;
using edge::Secret;
using edge::Status;

enum class KeyPairAlgorithm { EcP256, Rsa2048, Rsa4096 };

// "ec-p256:rsa-2048:*": unknown components ignored, "*" = ec-p256 then rsa-2048,
// absent = "*". An empty result is an error.
Result<std::vector<KeyPairAlgorithm>> parse_preferred_algorithms(const std::string* text);

// "derive,encrypt,sign" (any subset, comma-separated).
struct Usage {
  bool derive = false;
  bool sign = false;
  bool encrypt = false;
};
Result<Usage> parse_usage(std::string_view text);

enum class RsaPadding { Pkcs1, None };

class KeyPair {
 public:
  virtual ~KeyPair() = default;
  virtual Result<crypto::PublicKey> public_key() = 0;
  // ECDSA over a precomputed digest; DER-encoded ECDSA-Sig-Value.
  virtual Result<std::string> sign_digest(std::string_view digest) = 0;
  // RSA private-key operation ("encrypt" in upstream's API: PKCS#1 type 1 or raw).
  virtual Result<std::string> private_encrypt(std::string_view data, RsaPadding padding) = 0;
};

// AEAD ciphertext format: 0x02 || ciphertext || 16-byte tag (decrypt also takes legacy 0x01).
class SymmetricKey {
 public:
  virtual ~SymmetricKey() = default;
  virtual Result<std::string> hmac_sha256(std::string_view data) = 0;
  virtual Result<std::string> encrypt(std::string_view iv, std::string_view aad,
                                      std::string_view plaintext) = 0;
  virtual Result<std::string> decrypt(std::string_view iv, std::string_view aad,
                                      std::string_view ciphertext) = 0;
};

// A symmetric key whose bytes are in this process (file keys, derived keys).
class MemoryKey final : public SymmetricKey {
 public:
  explicit MemoryKey(Secret bytes) : bytes_(std::move(bytes)) {}
  Result<std::string> hmac_sha256(std::string_view data) override;
  Result<std::string> encrypt(std::string_view iv, std::string_view aad,
                              std::string_view plaintext) override;
  Result<std::string> decrypt(std::string_view iv, std::string_view aad,
                              std::string_view ciphertext) override;
  const Secret& bytes() const { return bytes_; }

 private:
  Secret bytes_;
};

// A key pair whose private key is in this process (file keys).
class MemoryKeyPair final : public KeyPair {
 public:
  explicit MemoryKeyPair(crypto::PrivateKey key) : key_(std::move(key)) {}
  Result<crypto::PublicKey> public_key() override;
  Result<std::string> sign_digest(std::string_view digest) override;
  Result<std::string> private_encrypt(std::string_view data, RsaPadding padding) override;

 private:
  crypto::PrivateKey key_;
};

Result<crypto::PrivateKey> generate_key_pair(KeyPairAlgorithm algorithm);

}  // namespace keyd
