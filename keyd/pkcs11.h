// Keys in a PKCS#11 token (HSM, SoftHSM, tpm2-pkcs11), selected by pkcs11: URIs (RFC 7512
// subset as upstream: token, slot-id, object; pin-value or pin-source).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "keyd/backend.h"

namespace keyd {

struct Pkcs11Uri {
  std::optional<std::string> token;
  std::optional<unsigned long> slot_id;  // wins over token when both are given
  std::optional<std::string> object;
  std::optional<std::string> pin;  // from pin-value, or read from pin-source
};

edge::Result<Pkcs11Uri> parse_pkcs11_uri(const std::string& uri);
// The base slot URI with object=<id> added (percent-encoded).
std::string pkcs11_uri_with_object(const std::string& base, const std::string& id);

edge::Result<std::unique_ptr<Backend>> make_pkcs11_backend(
    const std::string& library_path, const std::optional<std::string>& base_slot);

}  // namespace keyd
