// A typed client of aziot-keyd's HTTP API (key pairs, their public parameters, sign and the
// RSA private-key "encrypt"), safe to share between threads.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "common/http/client.h"

namespace edge::clients {

// keyd's answers map to errors as: 400 -> InvalidParameter, 401 -> Unauthorized,
// anything else -> Internal; a keyd that does not answer -> Unavailable. Messages start "keyd: ".
class KeydClient {
 public:
  static constexpr const char* kApiVersion = "2021-05-01";
  static constexpr size_t kMaxIdleConnections = 4;

  explicit KeydClient(std::string socket_path);

  // POST /keypair: the key pair's handle, creating it with the first usable algorithm of
  // `preferred_algorithms` ("ec-p256:rsa-2048:*") when it does not exist.
  Result<std::string> create_key_pair_if_not_exists(const std::string& id,
                                                    const std::string& preferred_algorithms);
  // GET /keypair/{id}: the handle of an existing key pair.
  Result<std::string> load_key_pair(const std::string& id);
  Status delete_key_pair(const std::string& handle);
  // POST /parameters/{name}: the raw value ("ECDSA"/"RSA" for "algorithm", else decoded bytes).
  Result<std::string> parameter(const std::string& handle, const std::string& name);
  // The key pair's public key, rebuilt from its parameters.
  Result<crypto::PKey> public_key(const std::string& handle);
  // POST /sign ECDSA over a precomputed digest; a DER ECDSA-Sig-Value.
  Result<std::string> sign_ecdsa(const std::string& handle, std::string_view digest);
  // POST /encrypt RSA-PKCS1: the RSA private-key operation with PKCS#1 type-1 padding.
  Result<std::string> rsa_private_encrypt(const std::string& handle, std::string_view data);

  // Symmetric keys (used by aziot-edged's workload API and Edge CA renewal).
  // POST /key: the handle of key `id`, generated with `usage` ("encrypt", "derive,sign") if absent.
  Result<std::string> create_key_if_not_exists(const std::string& id, const std::string& usage);
  // POST /sign HMAC-SHA256: the 32-byte MAC of `message`.
  Result<std::string> sign_hmac(const std::string& handle, std::string_view message);
  // POST /encrypt and /decrypt with AEAD (AES-256-GCM in keyd).
  Result<std::string> encrypt_aead(const std::string& handle, std::string_view iv,
                                   std::string_view aad, std::string_view plaintext);
  Result<std::string> decrypt_aead(const std::string& handle, std::string_view iv,
                                   std::string_view aad, std::string_view ciphertext);
  // POST /keypair/{id} {"from": from}: key pair `from` replaces key pair `id`.
  Status move_key_pair(const std::string& id, const std::string& from);

  const std::string& socket_path() const { return socket_path_; }

 private:
  Result<http::Json> call(const std::string& method, const std::string& path,
                          const std::optional<http::Json>& body);

  std::string socket_path_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<http::UnixClient>> idle_;
};

}  // namespace edge::clients
