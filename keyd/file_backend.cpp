#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fs.h"
#include "keyd/backend.h"

namespace keyd {
using edge::ErrorKind;
using edge::fail;
using edge::internal;

constexpr size_t kMaxKeyFileSize = 64 * 1024;
constexpr size_t kSymmetricKeySize = 32;

Result<std::unique_ptr<KeyPair>> FileBackend::open_key_pair(const std::string& path) {
  auto pem = EDGE_TRY(edge::fs::read_file(path, kMaxKeyFileSize));
  Secret secret(std::move(pem));
  auto key = edge::crypto::private_key_from_pem(secret.view());
  if (!key) return edge::invalid("parameter \"id\" has an invalid value\ncaused by: key file " + path + " is not a key pair");
  return std::unique_ptr<KeyPair>(new MemoryKeyPair(std::move(*key)));
}

Result<std::unique_ptr<KeyPair>> FileBackend::create_key_pair(
    const std::string& path, const std::vector<KeyPairAlgorithm>& preferred) {
  // As upstream, files use only the first preference: OpenSSL can make every algorithm.
  auto key = EDGE_TRY(generate_key_pair(preferred.front()));
  Secret pem(EDGE_TRY(edge::crypto::private_key_to_pkcs8_pem(key.get())));
  EDGE_TRY_VOID(edge::fs::write_atomic(path, pem.view(), 0600));
  return std::unique_ptr<KeyPair>(new MemoryKeyPair(std::move(key)));
}

Status FileBackend::delete_key_pair(const std::string& path) { return edge::fs::remove_file(path); }

Status FileBackend::move_key_pair(const std::string& from, const std::string& to) {
  if (!edge::fs::exists(from)) return fail(ErrorKind::NotFound, "key pair not found");
  if (std::rename(from.c_str(), to.c_str()) != 0)
    return internal("could not move " + from + " to " + to + ": " + std::strerror(errno));
  return {};
}

Result<std::unique_ptr<SymmetricKey>> FileBackend::open_key(const std::string& path) {
  Secret bytes(EDGE_TRY(edge::fs::read_file(path, kMaxKeyFileSize)));
  return std::unique_ptr<SymmetricKey>(new MemoryKey(std::move(bytes)));
}

Result<std::unique_ptr<SymmetricKey>> FileBackend::create_key(const std::string& path, Usage) {
  Secret bytes(EDGE_TRY(edge::crypto::random_bytes(kSymmetricKeySize)));
  EDGE_TRY_VOID(edge::fs::write_atomic(path, bytes.view(), 0600));
  return std::unique_ptr<SymmetricKey>(new MemoryKey(std::move(bytes)));
}

Result<std::unique_ptr<SymmetricKey>> FileBackend::import_key(const std::string& path,
                                                             const Secret& bytes, Usage) {
  EDGE_TRY_VOID(edge::fs::write_atomic(path, bytes.view(), 0600));
  return std::unique_ptr<SymmetricKey>(new MemoryKey(bytes));
}

Status FileBackend::delete_key(const std::string& path) { return edge::fs::remove_file(path); }

}  // namespace keyd
