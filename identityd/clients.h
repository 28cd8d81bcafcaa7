// Typed calls to keyd and certd over their Unix sockets (one connection per call, so the
// clients are safe to use from any server thread).
#pragma once
#include <string>

#include "common/http/client.h"
#include "common/result.h"
#include "common/secret.h"

namespace identityd {
using edge::Result;
using edge::Status;

class KeyClient {
 public:
  explicit KeyClient(std::string socket_path) : path_(std::move(socket_path)) {}
  Result<std::string> load_key(const std::string& id);
  Result<std::string> create_key_if_not_exists(const std::string& id, const std::string& usage);
  Result<std::string> load_key_pair(const std::string& id);
  Result<std::string> create_key_pair_if_not_exists(const std::string& id,
                                                    const std::string& algorithms);
  Status delete_key_pair(const std::string& handle);
  Status move_key_pair(const std::string& from, const std::string& to);
  Result<std::string> derive_key(const std::string& base_handle, const std::string& data);
  Result<edge::Secret> export_key(const std::string& handle);
  Result<std::string> sign_hmac(const std::string& handle, std::string_view message);
  Result<std::string> sign_ecdsa(const std::string& handle, std::string_view digest);
  Result<std::string> encrypt_rsa(const std::string& handle, const std::string& algorithm,
                                  std::string_view data);
  Result<std::string> parameter(const std::string& handle, const std::string& name);
  const std::string& socket_path() const { return path_; }

 private:
  Result<edge::http::Json> call(const std::string& method, const std::string& path,
                                const std::optional<edge::http::Json>& body);
  std::string path_;
};

class CertClient {
 public:
  explicit CertClient(std::string socket_path) : path_(std::move(socket_path)) {}
  Result<std::string> get(const std::string& id);  // PEM
  Result<std::string> create(const std::string& id, const std::string& csr_pem);
  Status import(const std::string& id, const std::string& pem);
  Status remove(const std::string& id);

 private:
  std::string path_;
};

}  // namespace identityd
