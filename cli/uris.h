// URL handling with the normalisation upstream's `url` crate applies when it re-serialises
// config values (lower-case scheme and host, "/" for an empty http(s) path, percent-encoding),
// plus the two key-location forms keyd accepts: file:// URIs and PKCS#11 URIs (RFC 7512).
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace edge::cli {

// An absolute URL in normalised form; errors read like the url crate's
// ("relative URL without a base", "empty host", "invalid port number").
Result<std::string> normalize_url(std::string_view text);
std::string url_scheme(std::string_view url);
// The decoded local path of a file:// URL, or nullopt for other schemes / remote hosts.
std::optional<std::string> file_url_path(std::string_view url);
// file:///abs/path with the path percent-encoded as upstream does; the path must be absolute.
std::string file_url_from_path(std::string_view path);

// A preloaded key location ("file://..." or "pkcs11:..."), re-serialised as keyd receives it.
Result<std::string> normalize_key_location(std::string_view text);
// PKCS#11 URI: slot-id or token, optional object and pin-value; written back percent-encoded.
Result<std::string> normalize_pkcs11_uri(std::string_view text);

}  // namespace edge::cli
