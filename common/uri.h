// Percent-encoding, query strings and the listen/connect URIs daemons use.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace edge::uri {

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);
// Encodes everything except RFC 3986 unreserved characters (A-Z a-z 0-9 - _ . ~).
std::string percent_encode(std::string_view s);
// "a=1&b=x%20y" -> {a:1, b:"x y"}; a repeated key keeps the first value.
Result<std::map<std::string, std::string>> parse_query(std::string_view query);

// unix:///run/aziot/keyd.sock, fd://aziot-keyd.socket, or (tests) a bare absolute path.
struct Endpoint {
  enum class Kind { Unix, Fd } kind = Kind::Unix;
  std::string value;  // socket path or fd name
};
Result<Endpoint> parse_endpoint(std::string_view text);

}  // namespace edge::uri
