// A client of aziot-tpmd's API for other daemons (identityd's DPS TPM attestation and hub SAS
// tokens): GET /get_tpm_keys, POST /import_auth_key, POST /sign_with_auth_key.
// Errors: tpmd's 400 -> InvalidParameter, 503 or no answer -> Unavailable, else Internal; the
// message carries tpmd's.
#pragma once
#include <mutex>
#include <string>
#include <string_view>

#include "common/http/client.h"
#include "common/result.h"

namespace edge::clients {

struct TpmKeys {
  std::string endorsement_key;   // marshaled TPM2B_PUBLIC
  std::string storage_root_key;  // marshaled TPM2B_PUBLIC
};

class TpmdClient {
 public:
  explicit TpmdClient(std::string socket_path = "/run/aziot/tpmd.sock");
  // Marshaled TPM2B_PUBLICs (base64 them for DPS's registration body).
  edge::Result<TpmKeys> get_tpm_keys();
  // DPS's "authenticationKey", base64-decoded.
  edge::Status import_auth_key(std::string_view blob);
  // HMAC-SHA256 with the imported key.
  edge::Result<std::string> sign_with_auth_key(std::string_view data);

 private:
  edge::Result<edge::http::Json> call(const std::string& method, const std::string& path,
                                      const std::optional<edge::http::Json>& body);
  std::mutex mutex_;
  edge::http::UnixClient client_;
};

}  // namespace edge::clients
