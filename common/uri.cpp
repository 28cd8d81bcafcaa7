#include "common/uri.h"

namespace edge::uri {
namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_encode(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    auto key = percent_decode(item.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : item.substr(eq + 1), true);
    if (!key || !value) return invalid("malformed query string");
    out.emplace(std::move(*key), std::move(*value));
  }
  return out;
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  if (text.starts_with("unix://")) {
    auto path = text.substr(7);
    if (path.empty() || path.front() != '/') return invalid("unix URI needs an absolute path: " + std::string(text));
    return Endpoint{Endpoint::Kind::Unix, std::string(path)};
  }
  if (text.starts_with("fd://")) {
    auto name = text.substr(5);
    if (name.empty()) return invalid("fd URI needs a name: " + std::string(text));
    return Endpoint{Endpoint::Kind::Fd, std::string(name)};
  }
  if (text.starts_with("/")) return Endpoint{Endpoint::Kind::Unix, std::string(text)};
  return invalid("unsupported endpoint URI (expected unix:// or fd://): " + std::string(text));
}

}  // namespace edge::uri
