// IoT Hub / DPS shared access signatures: "SharedAccessSignature sr=…&sig=…&se=…[&skn=…]".
// The signature is base64(HMAC-SHA256(base64decode(key), sr_as_sent + "\n" + se)).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace emulator {

struct SasToken {
  std::string sr_raw;      // exactly as sent (URL-encoded): it is what was signed
  std::string resource;    // decoded sr, lower-cased, without a trailing '/'
  std::string sr_decoded;  // decoded sr as sent
  std::string sig;         // decoded base64 signature
  std::string se_raw;
  int64_t expiry = 0;
  std::string skn;  // policy / key name (service and DPS tokens)
};

edge::Result<SasToken> parse_sas(std::string_view text);

// Unauthorized unless `token` names `resource` (case-insensitive), has not expired at `now`,
// and is signed with one of `keys_b64`.
edge::Status verify_sas(const SasToken& token, std::string_view resource,
                        const std::vector<std::string>& keys_b64, int64_t now);

// base64 HMAC of sr_raw + "\n" + se with a base64 key; empty when the key is not base64.
std::string sas_signature(std::string_view key_b64, std::string_view sr_raw, std::string_view se);
std::string make_sas(std::string_view resource, std::string_view key_b64, int64_t expiry,
                     std::string_view key_name = {});

// DPS group enrollments: a device's key is base64(HMAC-SHA256(group key, registration id)).
std::string derive_device_key(std::string_view group_key_b64, std::string_view registration_id);

std::string lower(std::string_view s);

}  // namespace emulator
