// The key service's cryptography, on Mbed TLS rather than the OpenSSL the other daemons use:
// keyd is resident all the time and small, and OpenSSL 3 alone (its provider machinery touched
// at start-up) is more resident memory than the whole of keyd is allowed (docs/keyd.md).
// Random numbers come straight from the kernel (getrandom), so nothing here has state to share.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

struct mbedtls_pk_context;

namespace keyd::crypto {

using edge::Result;
using edge::Secret;

Result<std::string> random_bytes(size_t n);
std::string sha256(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

// AES-256-GCM with a 16-byte tag. decrypt fails (InvalidParameter) when the tag does not match.
Result<std::string> aes256_gcm_encrypt(const Secret& key, std::string_view iv, std::string_view aad,
                                       std::string_view plaintext, std::string& tag);
Result<std::string> aes256_gcm_decrypt(const Secret& key, std::string_view iv, std::string_view aad,
                                       std::string_view ciphertext, std::string_view tag);

// A public key as plain bytes, whichever backend holds the private half.
struct PublicKey {
  enum class Type { Ec, Rsa } type = Type::Ec;
  std::string ec_curve_oid;  // DER OBJECT IDENTIFIER (tag and length included)
  std::string ec_point;      // uncompressed: 0x04 || X || Y
  std::string rsa_modulus;   // big-endian, no leading zero bytes
  std::string rsa_exponent;
  // SEC 1 compressed form (0x02 / 0x03 || X); empty when ec_point is malformed.
  std::string compressed_ec_point() const;
};
// DER OID of NIST P-256 (prime256v1, 1.2.840.10045.3.1.7).
extern const std::string_view kP256CurveOid;
// Big-endian bytes with leading zero bytes removed (a lone zero stays).
std::string strip_leading_zeros(std::string_view bytes);

// ECDSA r || s (as PKCS#11 returns it) to a DER ECDSA-Sig-Value.
Result<std::string> ecdsa_raw_to_der(std::string_view raw);

enum class KeyType { EcP256, Rsa2048, Rsa4096 };

// A private key held in this process. Operations on one key are serialised: Mbed TLS keeps
// per-key scratch state (ECC precomputation, RSA blinding values).
class PrivateKey {
 public:
  static Result<PrivateKey> generate(KeyType type);
  // PKCS#8, SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"), PEM or DER; unencrypted.
  static Result<PrivateKey> parse(const Secret& pem_or_der);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  bool is_ec() const;
  bool is_rsa() const;
  size_t rsa_modulus_size() const;  // bytes; 0 for EC keys
  Result<PublicKey> public_key() const;
  // PEM "PRIVATE KEY" (PKCS#8), as the files of upstream's filesystem backend.
  Result<Secret> to_pkcs8_pem() const;
  // ECDSA over a precomputed digest (truncated to the curve size as the standard says) -> DER.
  Result<std::string> ecdsa_sign(std::string_view digest);
  // The RSA private-key operation: PKCS#1 v1.5 type 1 padding, or none (data = modulus size).
  Result<std::string> rsa_private(std::string_view data, bool pkcs1_padding);

 private:
  PrivateKey();
  std::unique_ptr<mbedtls_pk_context> pk_;
  std::unique_ptr<std::mutex> mutex_;
};

}  // namespace keyd::crypto
