// Where keys live. A location is a backend-specific string: a file path for the filesystem
// backend, a pkcs11: URI for the PKCS#11 backend. Lookups of absent keys fail with NotFound.
#pragma once
#include <sys/stat.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keyd/key.h"

namespace keyd {

class Backend {
 public:
  virtual ~Backend() = default;

  virtual Result<std::shared_ptr<KeyPair>> open_key_pair(const std::string& location) = 0;
  virtual Result<std::shared_ptr<KeyPair>> create_key_pair(
      const std::string& location, const std::vector<KeyPairAlgorithm>& preferred) = 0;
  virtual Status delete_key_pair(const std::string& location) = 0;
  // Replaces whatever is at `to` with the key pair at `from`.
  virtual Status move_key_pair(const std::string& from, const std::string& to) = 0;

  virtual Result<std::shared_ptr<SymmetricKey>> open_key(const std::string& location) = 0;
  virtual Result<std::shared_ptr<SymmetricKey>> create_key(const std::string& location,
                                                          Usage usage) = 0;
  virtual Result<std::shared_ptr<SymmetricKey>> import_key(const std::string& location,
                                                          const Secret& bytes, Usage usage) = 0;
  virtual Status delete_key(const std::string& location) = 0;
};

// Keys in files: key pairs as PKCS#8 PEM, symmetric keys as raw bytes; files are 0600 and
// written atomically. Parsed keys are cached and reloaded when the file changes (inode, size
// or mtime), so a sign request does not re-parse PEM.
class FileBackend final : public Backend {
 public:
  Result<std::shared_ptr<KeyPair>> open_key_pair(const std::string& path) override;
  Result<std::shared_ptr<KeyPair>> create_key_pair(
      const std::string& path, const std::vector<KeyPairAlgorithm>& preferred) override;
  Status delete_key_pair(const std::string& path) override;
  Status move_key_pair(const std::string& from, const std::string& to) override;
  Result<std::shared_ptr<SymmetricKey>> open_key(const std::string& path) override;
  Result<std::shared_ptr<SymmetricKey>> create_key(const std::string& path, Usage usage) override;
  Result<std::shared_ptr<SymmetricKey>> import_key(const std::string& path, const Secret& bytes,
                                                  Usage usage) override;
  Status delete_key(const std::string& path) override;

 private:
  struct Cached {
    struct stat st;
    std::shared_ptr<KeyPair> pair;
    std::shared_ptr<SymmetricKey> key;
  };
  // Fills *st; NotFound when the file is absent.
  Status stat_file(const std::string& path, struct stat* st);
  Cached* cached(const std::string& path, const struct stat& st);
  void remember(const std::string& path, const struct stat& st, std::shared_ptr<KeyPair> pair,
                std::shared_ptr<SymmetricKey> key);
  void forget(const std::string& path);

  std::mutex mutex_;
  std::map<std::string, Cached> cache_;
};

}  // namespace keyd
