// Small text helpers shared by the HTTP parsers (common/http, common/cloud).
#pragma once
#include <cctype>
#include <string>
#include <string_view>

namespace edge::text {

// ASCII lower case (header names).
inline std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Without leading spaces/tabs and trailing spaces/tabs/CR (header values).
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace edge::text
