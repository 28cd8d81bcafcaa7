// What aziot-tpmd does with the TPM: the EK and SRK (created and persisted when missing), the
// DPS auth key imported from DPS's blob and persisted at 0x81000000 + auth_key_index, and
// HMAC-SHA256 with it. Each call opens its own TPM connection and flushes what it loaded.
#pragma once
#include <mutex>
#include <string>
#include <string_view>

#include "tpmd/config.h"

namespace tpmd {

constexpr size_t kMaxImportBlobSize = 8 * 1024;
constexpr size_t kMaxSignDataSize = 64 * 1024;

struct TpmKeys {
  std::string endorsement_key;   // marshaled TPM2B_PUBLIC
  std::string storage_root_key;  // marshaled TPM2B_PUBLIC
};

class Tpm {
 public:
  explicit Tpm(const Config& config);
  // Makes sure the EK and SRK exist (startup).
  edge::Status provision();
  edge::Result<TpmKeys> get_keys();
  edge::Status import_auth_key(std::string_view blob);
  edge::Result<std::string> sign_with_auth_key(std::string_view data);

 private:
  edge::Result<std::unique_ptr<tpm::Esys>> open();

  std::string tcti_;
  uint32_t auth_key_handle_;
  tpm::HierarchyAuth auth_;
  std::mutex mutex_;  // one TPM conversation at a time (no resource manager)
};

}  // namespace tpmd
