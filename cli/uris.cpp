#include "cli/uris.h"

#include <cctype>
#include <cstdio>
#include <vector>

#include "common/uri.h"

namespace edge::cli {
namespace {

bool is_special(const std::string& scheme) {
  return scheme == "http" || scheme == "https" || scheme == "ws" || scheme == "wss" ||
         scheme == "ftp" || scheme == "file";
}

std::string default_port(const std::string& scheme) {
  if (scheme == "http" || scheme == "ws") return "80";
  if (scheme == "https" || scheme == "wss") return "443";
  if (scheme == "ftp") return "21";
  return "";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// WHATWG path percent-encode set (C0 controls, space, " # < > ? ` { } and non-ASCII); '#'
// and '?' never reach here because they delimit the path.
std::string encode_path(std::string_view path, bool encode_percent) {
  std::string out;
  for (unsigned char c : path) {
    bool enc = c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' ||
               c == '}' || (encode_percent && c == '%');
    if (enc) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string encode_non_alphanumeric(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

std::string url_scheme(std::string_view url) {
  auto colon = url.find(':');
  return colon == std::string_view::npos ? "" : lower(std::string(url.substr(0, colon)));
}

Result<std::string> normalize_url(std::string_view text) {
  std::string s(text);
  // Leading and trailing C0 controls and spaces are stripped, as the url crate does.
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= 0x20) s.erase(s.begin());
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= 0x20) s.pop_back();
  size_t colon = s.find(':');
  bool scheme_ok =
      colon != std::string::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(s[0]));
  for (size_t i = 0; scheme_ok && i < colon; ++i) {
    char c = s[i];
    scheme_ok = std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  }
  if (!scheme_ok) return invalid("relative URL without a base");
  std::string scheme = lower(s.substr(0, colon));
  std::string rest = s.substr(colon + 1);
  if (!is_special(scheme)) return scheme + ":" + rest;

  // Split off the fragment and query; they are kept verbatim.
  std::string tail;
  if (auto q = rest.find_first_of("?#"); q != std::string::npos) {
    tail = rest.substr(q);
    rest = rest.substr(0, q);
  }
  for (auto& c : rest)
    if (c == '\\') c = '/';
  size_t slashes = 0;
  while (slashes < rest.size() && rest[slashes] == '/') ++slashes;

  if (scheme == "file") {
    std::string host, path;
    if (slashes >= 2) {
      std::string after = rest.substr(2);
      if (slashes == 2) {
        auto slash = after.find('/');
        host = lower(after.substr(0, slash));
        path = slash == std::string::npos ? "/" : after.substr(slash);
      } else {
        path = after;
      }
    } else {
      path = "/" + rest.substr(slashes);
    }
    if (host == "localhost") host.clear();
    return "file://" + host + encode_path(path, false) + tail;
  }

  if (slashes == 0 && rest.empty()) return invalid("empty host");
  std::string after = rest.substr(slashes);
  auto slash = after.find('/');
  std::string authority = after.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : after.substr(slash);
  std::string userinfo;
  if (auto at = authority.rfind('@'); at != std::string::npos) {
    userinfo = authority.substr(0, at + 1);
    authority = authority.substr(at + 1);
  }
  std::string host = authority, port;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return invalid("invalid IPv6 address");
    host = authority.substr(0, close + 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return invalid("invalid port number");
      port = authority.substr(close + 2);
    }
  } else if (auto c = authority.rfind(':'); c != std::string::npos) {
    host = authority.substr(0, c);
    port = authority.substr(c + 1);
  }
  if (host.empty()) return invalid("empty host");
  for (unsigned char c : host)
    if (c <= 0x20 || c == '<' || c == '>' || c == '^' || c == '|' || c == '%')
      return invalid("invalid domain character");
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return invalid("invalid port number");
  if (!port.empty() && (port.size() > 5 || std::stoul(port) > 65535))
    return invalid("invalid port number");
  if (port == default_port(scheme)) port.clear();
  return scheme + "://" + userinfo + lower(host) + (port.empty() ? "" : ":" + port) +
         encode_path(path, false) + tail;
}

std::optional<std::string> file_url_path(std::string_view url) {
  auto normalized = normalize_url(url);
  if (!normalized || url_scheme(*normalized) != "file") return std::nullopt;
  std::string rest = normalized->substr(7);                 // after "file://"
  if (rest.empty() || rest[0] != '/') return std::nullopt;  // a remote host
  if (auto q = rest.find_first_of("?#"); q != std::string::npos) rest = rest.substr(0, q);
  return uri::percent_decode(rest);
}

std::string file_url_from_path(std::string_view path) {
  return "file://" + encode_path(path, true);
}

Result<std::string> normalize_pkcs11_uri(std::string_view text) {
  if (text.substr(0, 7) != "pkcs11:") return invalid("URI does not have pkcs11 scheme");
  std::string s(text.substr(7));
  std::string path = s, query;
  if (auto q = s.find('?'); q != std::string::npos) {
    path = s.substr(0, q);
    query = s.substr(q + 1);
  }
  std::optional<std::string> object, token, slot, pin;
  auto split = [](const std::string& part) {
    auto eq = part.find('=');
    return eq == std::string::npos ? std::pair{part, std::string()}
                                   : std::pair{part.substr(0, eq), part.substr(eq + 1)};
  };
  auto parts = [](const std::string& joined, char sep) {
    std::vector<std::string> list;
    size_t from = 0;
    while (true) {
      size_t end = joined.find(sep, from);
      list.push_back(joined.substr(from, end == std::string::npos ? end : end - from));
      if (end == std::string::npos) return list;
      from = end + 1;
    }
  };
  for (const auto& part : parts(path, ';')) {
    auto [k, v] = split(part);
    auto key = uri::percent_decode(k).value_or(k);
    if (key != "object" && key != "token" && key != "slot-id") continue;
    auto value = uri::percent_decode(v);
    if (!value) return invalid("URI component [" + key + "] is not valid UTF-8");
    if (key == "object") object = *value;
    if (key == "token") token = *value;
    if (key == "slot-id") {
      bool digits = !value->empty() && value->size() <= 20;
      for (char c : *value) digits &= std::isdigit(static_cast<unsigned char>(c)) != 0;
      if (!digits) return invalid("slot-id path component has malformed value [" + *value + "]");
      slot = std::to_string(std::stoull(*value));
    }
  }
  for (const auto& part : parts(query, '&')) {
    auto [k, v] = split(part);
    if (uri::percent_decode(k).value_or(k) != "pin-value") continue;
    auto value = uri::percent_decode(v);
    if (!value) return invalid("URI component [pin-value] is not valid UTF-8");
    pin = *value;
  }
  std::string out = "pkcs11:";
  if (slot) {
    out += "slot-id=" + encode_non_alphanumeric(*slot);
  } else if (token) {
    out += "token=" + encode_non_alphanumeric(*token);
  } else {
    return invalid("URI has neither [slot-id] nor [token] components");
  }
  if (object) out += ";object=" + encode_non_alphanumeric(*object);
  if (pin) out += "?pin-value=" + encode_non_alphanumeric(*pin);
  return out;
}

Result<std::string> normalize_key_location(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos) return invalid("missing scheme");
  std::string scheme(text.substr(0, colon));
  if (scheme == "file") {
    auto url = EDGE_TRY(normalize_url(text));
    auto path = file_url_path(url);
    if (!path) return invalid("cannot convert to file path");
    return file_url_from_path(*path);
  }
  if (scheme == "pkcs11") return normalize_pkcs11_uri(text);
  return invalid("unrecognized scheme");
}

}  // namespace edge::cli
