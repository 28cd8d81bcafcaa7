// What aziot-tpmd does with the TPM: the EK and SRK (created and persisted when missing), the
// DPS auth key imported from DPS's blob and persisted at 0x81000000 + auth_key_index, and
// HMAC-SHA256 with it. Each call opens its own TPM connection and flushes what it loaded.
//
// TPM calls run on a helper thread and the caller waits at most `timeout` (default 30 s,
// AZIOT_TPMD_TPM_TIMEOUT_MS overrides): a TPM held by another client (swtpm serves one
// connection at a time) makes requests fail with 503 instead of hanging; the helper finishes
// on its own when the TPM answers.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
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
  struct Shared {
    std::string tcti;
    uint32_t auth_key_handle;
    tpm::HierarchyAuth auth;
    std::mutex mutex;  // one TPM conversation at a time (no resource manager)
  };
  // Runs op(shared) under the mutex on a helper thread, waiting at most timeout_.
  template <class T>
  edge::Result<T> run(std::function<edge::Result<T>(Shared&)> op);

  std::shared_ptr<Shared> shared_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tpmd
