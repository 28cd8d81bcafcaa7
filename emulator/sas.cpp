#include "emulator/sas.h"

#include <algorithm>
#include <charconv>

#include "common/base64.h"
#include "common/crypto.h"
#include "common/uri.h"

namespace emulator {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

static std::string normalize_resource(std::string_view decoded) {
  std::string r = lower(decoded);
  while (!r.empty() && r.back() == '/') r.pop_back();
  return r;
}

edge::Result<SasToken> parse_sas(std::string_view text) {
  constexpr std::string_view prefix = "SharedAccessSignature ";
  if (!text.starts_with(prefix))
    return edge::fail(edge::ErrorKind::Unauthorized, "not a SAS token");
  text.remove_prefix(prefix.size());
  SasToken t;
  bool have_sr = false, have_sig = false, have_se = false;
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view field = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{} : text.substr(amp + 1);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos)
      return edge::fail(edge::ErrorKind::Unauthorized, "malformed SAS field");
    std::string_view name = field.substr(0, eq), value = field.substr(eq + 1);
    auto decoded = edge::uri::percent_decode(value);
    if (!decoded) return edge::fail(edge::ErrorKind::Unauthorized, "malformed SAS encoding");
    if (name == "sr") {
      t.sr_raw = std::string(value);
      t.resource = normalize_resource(*decoded);
      t.sr_decoded = *decoded;
      have_sr = true;
    } else if (name == "sig") {
      t.sig = *decoded;
      have_sig = true;
    } else if (name == "se") {
      t.se_raw = std::string(value);
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), t.expiry);
      if (ec != std::errc{} || p != value.data() + value.size())
        return edge::fail(edge::ErrorKind::Unauthorized, "malformed SAS expiry");
      have_se = true;
    } else if (name == "skn") {
      t.skn = *decoded;
    }
  }
  if (!have_sr || !have_sig || !have_se)
    return edge::fail(edge::ErrorKind::Unauthorized, "SAS token lacks sr, sig or se");
  return t;
}

std::string sas_signature(std::string_view key_b64, std::string_view sr_raw, std::string_view se) {
  auto key = edge::base64::decode(key_b64);
  if (!key) return {};
  std::string to_sign = std::string(sr_raw) + "\n" + std::string(se);
  auto mac = edge::crypto::hmac_sha256(*key, to_sign);
  return mac ? edge::base64::encode(*mac) : std::string{};
}

edge::Status verify_sas(const SasToken& token, std::string_view resource,
                        const std::vector<std::string>& keys_b64, int64_t now) {
  if (token.resource != normalize_resource(resource))
    return edge::fail(edge::ErrorKind::Unauthorized, "SAS audience does not match the identity");
  if (token.expiry <= now) return edge::fail(edge::ErrorKind::Unauthorized, "SAS token expired");
  // What was signed is sr as the client encoded it. Some HTTP stacks (cpp-httplib 0.11) hand
  // over header values already percent-decoded, so also try the canonical re-encoding.
  std::vector<std::string> signed_forms{token.sr_raw};
  if (std::string canonical = edge::uri::percent_encode(token.sr_decoded);
      canonical != token.sr_raw)
    signed_forms.push_back(canonical);
  for (const auto& key : keys_b64) {
    if (key.empty()) continue;
    for (const auto& sr : signed_forms) {
      std::string expected = sas_signature(key, sr, token.se_raw);
      if (!expected.empty() && edge::crypto::constant_time_equal(expected, token.sig)) return {};
    }
  }
  return edge::fail(edge::ErrorKind::Unauthorized, "SAS signature does not match");
}

std::string make_sas(std::string_view resource, std::string_view key_b64, int64_t expiry,
                     std::string_view key_name) {
  std::string sr = edge::uri::percent_encode(resource);
  std::string se = std::to_string(expiry);
  std::string out = "SharedAccessSignature sr=" + sr +
                    "&sig=" + edge::uri::percent_encode(sas_signature(key_b64, sr, se)) +
                    "&se=" + se;
  if (!key_name.empty()) out += "&skn=" + edge::uri::percent_encode(key_name);
  return out;
}

std::string derive_device_key(std::string_view group_key_b64, std::string_view registration_id) {
  auto key = edge::base64::decode(group_key_b64);
  if (!key) return {};
  auto mac = edge::crypto::hmac_sha256(*key, registration_id);
  return mac ? edge::base64::encode(*mac) : std::string{};
}

}  // namespace emulator
