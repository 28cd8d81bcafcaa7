// Where certificates live: preloaded file:// paths, bundles of ids, or
// homedir/certs/<id with only ASCII alphanumerics kept>-<hex sha256(id)>.cer, written atomically.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "certd/config.h"
#include "certd/issue.h"

namespace certd {

constexpr size_t kMaxCertIdLength = 256;

// Ids are free-form as upstream ("aziot-edged/module/m:1:server"), but not empty, not over
// kMaxCertIdLength bytes, no control characters, and nothing that reads as a path
// ("/abs", "a/../b", "./x").
edge::Status validate_cert_id(const std::string& id);
std::string cert_file_path(const std::string& homedir, const std::string& id);

class CertStore {
 public:
  CertStore(std::string homedir, std::map<std::string, Preloaded> preloaded);

  // Creates homedir/certs and removes temp files a crash left there (once, at start-up).
  static edge::Status prepare(const std::string& homedir);
  // The PEM of `id` (a bundle's members concatenated); nullopt when there is none.
  Result<std::optional<std::string>> get(const std::string& id) const;
  // Bundles are read-only: InvalidParameter naming the id.
  edge::Status check_writable(const std::string& id) const;
  edge::Status put(const std::string& id, std::string_view pem) const;
  edge::Status remove(const std::string& id) const;

 private:
  Result<std::string> writable_path(const std::string& id) const;
  Result<std::optional<std::string>> read(const std::string& path) const;

  std::string homedir_;
  std::map<std::string, Preloaded> preloaded_;
};

}  // namespace certd
