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

constexpr size_t kMaxCachedKeys = 256;

Status FileBackend::stat_file(const std::string& path, struct stat* st) {
  if (::stat(path.c_str(), st) == 0) return {};
  int err = errno;
  forget(path);
  if (err == ENOENT) return fail(ErrorKind::NotFound, "no key file " + path);
  return internal("could not stat " + path + ": " + std::strerror(err));
}

FileBackend::Cached* FileBackend::cached(const std::string& path, const struct stat& st) {
  auto it = cache_.find(path);
  if (it == cache_.end()) return nullptr;
  const auto& old = it->second.st;
  if (old.st_ino != st.st_ino || old.st_dev != st.st_dev || old.st_size != st.st_size ||
      old.st_mtim.tv_sec != st.st_mtim.tv_sec || old.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
    return nullptr;
  return &it->second;
}

void FileBackend::remember(const std::string& path, const struct stat& st,
                           std::shared_ptr<KeyPair> pair, std::shared_ptr<SymmetricKey> key) {
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kMaxCachedKeys) cache_.clear();
  cache_[path] = Cached{st, std::move(pair), std::move(key)};
}

void FileBackend::forget(const std::string& path) {
  std::lock_guard lock(mutex_);
  cache_.erase(path);
}

Result<std::shared_ptr<KeyPair>> FileBackend::open_key_pair(const std::string& path) {
  struct stat st {};
  EDGE_TRY_VOID(stat_file(path, &st));
  {
    std::lock_guard lock(mutex_);
    if (auto* c = cached(path, st); c && c->pair) return c->pair;
  }
  Secret pem(EDGE_TRY(edge::fs::read_file(path, kMaxKeyFileSize)));
  auto key = crypto::PrivateKey::parse(pem);
  if (!key)
    return edge::invalid("parameter \"id\" has an invalid value\ncaused by: key file " + path +
                         " is not a key pair: " + key.error().message);
  std::shared_ptr<KeyPair> pair(new MemoryKeyPair(std::move(*key)));
  remember(path, st, pair, nullptr);
  return pair;
}

Result<std::shared_ptr<KeyPair>> FileBackend::create_key_pair(
    const std::string& path, const std::vector<KeyPairAlgorithm>& preferred) {
  // As upstream, files use only the first preference: software can make every algorithm.
  auto key = EDGE_TRY(generate_key_pair(preferred.front()));
  Secret pem(EDGE_TRY(key.to_pkcs8_pem()));
  EDGE_TRY_VOID(edge::fs::write_atomic(path, pem.view(), 0600));
  return std::shared_ptr<KeyPair>(new MemoryKeyPair(std::move(key)));
}

Status FileBackend::delete_key_pair(const std::string& path) {
  forget(path);
  return edge::fs::remove_file(path);
}

Status FileBackend::move_key_pair(const std::string& from, const std::string& to) {
  forget(from);
  forget(to);
  if (!edge::fs::exists(from)) return fail(ErrorKind::NotFound, "key pair not found");
  if (std::rename(from.c_str(), to.c_str()) != 0)
    return internal("could not move " + from + " to " + to + ": " + std::strerror(errno));
  return {};
}

Result<std::shared_ptr<SymmetricKey>> FileBackend::open_key(const std::string& path) {
  struct stat st {};
  EDGE_TRY_VOID(stat_file(path, &st));
  {
    std::lock_guard lock(mutex_);
    if (auto* c = cached(path, st); c && c->key) return c->key;
  }
  Secret bytes(EDGE_TRY(edge::fs::read_file(path, kMaxKeyFileSize)));
  std::shared_ptr<SymmetricKey> key(new MemoryKey(std::move(bytes)));
  remember(path, st, nullptr, key);
  return key;
}

Result<std::shared_ptr<SymmetricKey>> FileBackend::create_key(const std::string& path, Usage) {
  Secret bytes(EDGE_TRY(crypto::random_bytes(kSymmetricKeySize)));
  EDGE_TRY_VOID(edge::fs::write_atomic(path, bytes.view(), 0600));
  return std::shared_ptr<SymmetricKey>(new MemoryKey(std::move(bytes)));
}

Result<std::shared_ptr<SymmetricKey>> FileBackend::import_key(const std::string& path,
                                                             const Secret& bytes, Usage) {
  EDGE_TRY_VOID(edge::fs::write_atomic(path, bytes.view(), 0600));
  return std::shared_ptr<SymmetricKey>(new MemoryKey(bytes));
}

Status FileBackend::delete_key(const std::string& path) {
  forget(path);
  return edge::fs::remove_file(path);
}

}  // namespace keyd
