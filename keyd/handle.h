// Key handles as upstream: "sr=<base64 JSON>&sig=<base64 HMAC-SHA256>", the JSON naming the
// key and a random nonce, the HMAC made with the internal handle-validation-key. A handle is
// a capability: whoever holds a valid one may use the key.
#pragma once
#include <string>
#include <string_view>

#include "keyd/key.h"

namespace keyd {

constexpr size_t kMaxHandleLength = 16 * 1024;

struct KeyRef {
  enum class Kind { KeyPair, Key, Derived };
  Kind kind = Kind::Key;
  std::string id;               // KeyPair, Key
  std::string base_handle;      // Derived: the handle of the base symmetric key
  std::string derivation_data;  // Derived: raw bytes
};

Result<std::string> issue_handle(SymmetricKey& validation_key, const KeyRef& ref);
// Any malformed, truncated or forged handle: InvalidParameter "invalid handle".
Result<KeyRef> verify_handle(SymmetricKey& validation_key, std::string_view handle);

}  // namespace keyd
