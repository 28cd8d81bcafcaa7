// Resolves key ids to locations (preloaded URI, PKCS#11 base slot, files in the home dir)
// and runs key operations there, as upstream's libaziot-keys does.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "keyd/backend.h"
#include "keyd/config.h"

namespace keyd {

constexpr size_t kMaxKeyIdLength = 256;

class KeyStore {
 public:
  static Result<std::unique_ptr<KeyStore>> open(const Config& config);

  Status create_key_pair_if_not_exists(const std::string& id,
                                       const std::vector<KeyPairAlgorithm>& preferred);
  Result<std::shared_ptr<KeyPair>> load_key_pair(const std::string& id);
  Status delete_key_pair(const std::string& id);
  Status move_key_pair(const std::string& from, const std::string& to);

  Status create_key_if_not_exists(const std::string& id, Usage usage);
  Status import_key(const std::string& id, const Secret& bytes, Usage usage);
  Result<std::shared_ptr<SymmetricKey>> load_key(const std::string& id);
  Status delete_key(const std::string& id);

  // The internal key that authenticates handles (created on first use, then cached).
  Result<SymmetricKey*> handle_validation_key();

 private:
  struct Location {
    Backend* backend;
    std::string where;
  };
  Result<std::vector<Location>> locations(const std::string& id) const;

  Config config_;
  std::unique_ptr<FileBackend> files_;
  std::unique_ptr<Backend> pkcs11_;
  std::unique_ptr<Backend> tpm_;
  std::mutex create_mutex_;
  std::mutex validation_mutex_;
  std::shared_ptr<SymmetricKey> validation_key_;
};

edge::Status validate_key_id(const std::string& id);
// homedir/keys/<id with only ASCII alphanumerics kept>-<hex sha256(id)>.key
std::string key_file_path(const std::string& homedir, const std::string& id);

}  // namespace keyd
