// Lower-case hex of bytes (file names, digests in logs and reports).
#pragma once
#include <string>
#include <string_view>

namespace edge::crypto {

inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

}  // namespace edge::crypto
