#include "common/duration.h"

#include <cctype>
#include <limits>
#include <string>
#include <utility>

namespace edge {

Result<int64_t> parse_duration(std::string_view text) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"seconds", 1},      {"second", 1},      {"secs", 1},         {"sec", 1},
      {"s", 1},            {"minutes", 60},    {"minute", 60},      {"mins", 60},
      {"min", 60},         {"m", 60},          {"hours", 3600},     {"hour", 3600},
      {"hrs", 3600},       {"hr", 3600},       {"h", 3600},         {"days", 86400},
      {"day", 86400},      {"d", 86400},       {"weeks", 604800},   {"week", 604800},
      {"w", 604800},       {"months", 2630016}, {"month", 2630016}, {"M", 2630016},
      {"years", 31557600}, {"year", 31557600}, {"y", 31557600}};
  auto bad = [&](const std::string& why) {
    return invalid("invalid duration \"" + std::string(text) + "\"" + why);
  };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t total = 0;
  bool any = false;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 12) return bad("");
    int64_t n = std::stoll(std::string(text.substr(start, i - start)));
    while (i < text.size() && text[i] == ' ') ++i;
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t factor = 0;
    for (const auto& [name, seconds] : kUnits)
      if (name == unit) factor = seconds;
    if (factor == 0) return bad(": unknown unit \"" + std::string(unit) + "\"");
    if (n > kMax / factor || total > kMax - n * factor) return bad(": too large");
    total += n * factor;
    any = true;
  }
  if (!any) return bad("");
  return total;
}

}  // namespace edge
