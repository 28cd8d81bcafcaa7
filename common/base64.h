// Standard base64 with padding (RFC 4648 §4), and URL-safe variants.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace edge::base64 {

std::string encode(std::string_view bytes);
// Strict: standard alphabet, padding required unless allow_missing_padding.
std::optional<std::string> decode(std::string_view text, bool allow_missing_padding = false);
std::string encode_url(std::string_view bytes);  // '-' '_' with padding

}  // namespace edge::base64
