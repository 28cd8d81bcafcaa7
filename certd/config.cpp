#include "certd/config.h"

#include <fnmatch.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <set>

#include "common/config.h"
#include "common/uri.h"

namespace certd {
namespace {
using edge::config::Reader;

edge::Status only_keys(const Reader& r, const std::set<std::string>& known) {
  for (const auto& [key, node] : r.table()) {
    std::string k(key.str());
    if (!known.contains(k)) return r.error_at(k, "unknown key");
  }
  return {};
}

std::string truncate_chars(const std::string& s, size_t max_chars) {
  size_t chars = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == max_chars)
      return s.substr(0, i);
  }
  return s;
}

Result<EstAuth> decode_est_auth(const Reader& r) {
  EstAuth a;
  a.username = EDGE_TRY(r.opt_string("username"));
  if (auto password = EDGE_TRY(r.opt_string("password"))) a.password.emplace(std::move(*password));
  a.identity_cert = EDGE_TRY(r.opt_string("identity_cert"));
  a.identity_pk = EDGE_TRY(r.opt_string("identity_pk"));
  a.bootstrap_identity_cert = EDGE_TRY(r.opt_string("bootstrap_identity_cert"));
  a.bootstrap_identity_pk = EDGE_TRY(r.opt_string("bootstrap_identity_pk"));
  if (a.username.has_value() != a.password.has_value())
    return r.error_at(a.username ? "password" : "username",
                      "EST basic auth needs both username and password");
  if (a.identity_cert.has_value() != a.identity_pk.has_value())
    return r.error_at(a.identity_cert ? "identity_pk" : "identity_cert",
                      "EST identity needs both identity_cert and identity_pk");
  if (a.bootstrap_identity_cert.has_value() != a.bootstrap_identity_pk.has_value())
    return r.error_at(
        a.bootstrap_identity_cert ? "bootstrap_identity_pk" : "bootstrap_identity_cert",
        "EST bootstrap identity needs both bootstrap_identity_cert and bootstrap_identity_pk");
  if (a.bootstrap_identity_cert && !a.identity_cert)
    return r.error_at("bootstrap_identity_cert",
                      "a bootstrap identity needs identity_cert and identity_pk");
  return a;
}

Result<std::string> decode_est_url(const Reader& r, const std::string& key,
                                   std::vector<std::string>& warnings) {
  auto url = EDGE_TRY(r.string(key));
  if (url.starts_with("http://"))
    warnings.push_back("EST server URL \"" + url +
                       "\" is configured with unencrypted HTTP, which may expose the "
                       "device to man-in-the-middle attacks. Configure HTTPS for the EST server to "
                       "clear this warning.");
  else if (!url.starts_with("https://"))
    return r.error_at(key, "expected an https:// URL");
  return url;
}

const std::set<std::string> kEstAuthKeys = {"username",
                                            "password",
                                            "identity_cert",
                                            "identity_pk",
                                            "bootstrap_identity_cert",
                                            "bootstrap_identity_pk"};

Result<Est> decode_est(const Reader& r, std::vector<std::string>& warnings) {
  Est est;
  auto known = kEstAuthKeys;
  known.insert({"trusted_certs", "identity_auto_renew", "urls"});
  EDGE_TRY_VOID(only_keys(r, known));
  if (auto v = EDGE_TRY(r.opt_string_array("trusted_certs"))) est.trusted_certs = *v;
  est.auth = EDGE_TRY(decode_est_auth(r));
  if (const auto* renew = EDGE_TRY(r.opt_table("identity_auto_renew"))) {
    Reader rr(*renew, r.key_path("identity_auto_renew"));
    EDGE_TRY_VOID(only_keys(rr, {"rotate_key", "threshold", "retry"}));
    if (auto v = EDGE_TRY(rr.opt_bool("rotate_key"))) est.rotate_key = *v;
    for (auto [key, field] :
         {std::pair{"threshold", &est.threshold}, std::pair{"retry", &est.retry}}) {
      if (auto v = EDGE_TRY(rr.opt_string(key))) {
        if (!valid_renewal_policy(*v))
          return rr.error_at(key, "expected \"<1-99>%\", \"<n>min\" or \"<n>day\"");
        *field = *v;
      }
    }
  }
  if (const auto* urls = EDGE_TRY(r.opt_table("urls"))) {
    Reader ur(*urls, r.key_path("urls"));
    for (const auto& [key, node] : *urls)
      est.urls[std::string(key.str())] =
          EDGE_TRY(decode_est_url(ur, std::string(key.str()), warnings));
  }
  return est;
}

Result<IssuanceOptions> decode_options(const Reader& r, std::vector<std::string>& warnings) {
  IssuanceOptions o;
  auto known = kEstAuthKeys;
  known.insert({"method", "expiry_days", "common_name", "subject", "url"});
  EDGE_TRY_VOID(only_keys(r, known));
  auto method = EDGE_TRY(r.string("method"));
  if (method == "self_signed")
    o.method = Method::SelfSigned;
  else if (method == "local_ca")
    o.method = Method::LocalCa;
  else if (method == "est")
    o.method = Method::Est;
  else
    return r.error_at("method", "expected \"self_signed\", \"local_ca\" or \"est\"");
  o.expiry_days = EDGE_TRY(r.opt_int("expiry_days", 1, kMaxExpiryDays));
  auto cn = EDGE_TRY(r.opt_string("common_name"));
  const auto* subject = EDGE_TRY(r.opt_table("subject"));
  if (cn && subject) return r.error_at("subject", "set either common_name or subject, not both");
  if (cn) o.subject = {{{"CN", truncate_chars(*cn, kMaxCommonNameChars)}}};
  if (subject) {
    Reader sr(*subject, r.key_path("subject"));
    std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> probe(X509_NAME_new(), X509_NAME_free);
    o.subject.emplace();
    for (const auto& [key, node] : *subject) {
      std::string name(key.str());
      auto value = EDGE_TRY(sr.string(name));
      if (OBJ_txt2nid(name.c_str()) == NID_undef)
        return sr.error_at(name, "unknown subject attribute");
      if (OBJ_txt2nid(name.c_str()) == NID_commonName)
        value = truncate_chars(value, kMaxCommonNameChars);
      // Checked here (length and character set per attribute) so issuance cannot fail on it.
      if (X509_NAME_add_entry_by_txt(probe.get(), name.c_str(), MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                     0) != 1) {
        ERR_clear_error();
        return sr.error_at(name, "not a valid value for this subject attribute");
      }
      o.subject->emplace_back(name, value);
    }
    if (o.subject->empty()) return r.error_at("subject", "an empty subject");
  }
  if (o.method == Method::Est) {
    if (r.has("url")) o.est_url = EDGE_TRY(decode_est_url(r, "url", warnings));
    o.est_auth = EDGE_TRY(decode_est_auth(r));
  }
  return o;
}

Result<std::string> file_uri_path(const Reader& r, const std::string& id, const std::string& uri) {
  std::string_view rest(uri);
  if (rest.starts_with("file://localhost/"))
    rest.remove_prefix(16);
  else if (rest.starts_with("file:///"))
    rest.remove_prefix(7);
  else
    return r.error_at(id, "expected a file:// URI with an absolute path (or an array of cert ids)");
  auto path = edge::uri::percent_decode(rest);
  if (!path || path->find('\0') != std::string::npos)
    return r.error_at(id, "not a valid file path");
  return *path;
}

Result<Config> decode(const toml::table& root) {
  Config c;
  Reader top(root);
  EDGE_TRY_VOID(only_keys(top, {"homedir_path", "max_requests", "cert_issuance", "preloaded_certs",
                                "principal", "endpoints"}));
  c.homedir_path = EDGE_TRY(top.string("homedir_path"));
  if (c.homedir_path.empty()) return top.error_at("homedir_path", "must not be empty");
  if (auto v = EDGE_TRY(top.opt_int("max_requests", 1, 10000)))
    c.max_requests = static_cast<size_t>(*v);

  if (const auto* issuance = EDGE_TRY(top.opt_table("cert_issuance"))) {
    Reader r(*issuance, "cert_issuance");
    for (const auto& [key, node] : *issuance) {
      std::string id(key.str());
      const auto* table = EDGE_TRY(r.opt_table(id));
      Reader sub(*table, r.key_path(id));
      if (id == "local_ca") {
        EDGE_TRY_VOID(only_keys(sub, {"cert", "pk"}));
        c.cert_issuance.local_ca =
            CertWithKey{EDGE_TRY(sub.string("cert")), EDGE_TRY(sub.string("pk"))};
      } else if (id == "est") {
        c.cert_issuance.est = EDGE_TRY(decode_est(sub, c.warnings));
      } else {
        c.cert_issuance.certs[id] = EDGE_TRY(decode_options(sub, c.warnings));
      }
    }
  }

  if (const auto* pre = EDGE_TRY(top.opt_table("preloaded_certs"))) {
    Reader r(*pre, "preloaded_certs");
    for (const auto& [key, node] : *pre) {
      std::string id(key.str());
      if (node.is_string())
        c.preloaded_certs[id] = EDGE_TRY(file_uri_path(r, id, EDGE_TRY(r.string(id))));
      else if (node.is_array())
        c.preloaded_certs[id] = *EDGE_TRY(r.opt_string_array(id));
      else
        return r.error_at(id, "expected a file:// URI or an array of cert ids");
    }
    // As upstream: a bundle may name preloaded files or stored certs, not other bundles.
    for (const auto& [id, entry] : c.preloaded_certs) {
      const auto* ids = std::get_if<std::vector<std::string>>(&entry);
      if (!ids) continue;
      for (const auto& member : *ids) {
        auto it = c.preloaded_certs.find(member);
        if (it != c.preloaded_certs.end() &&
            std::holds_alternative<std::vector<std::string>>(it->second))
          return r.error_at(id, "\"" + member + "\" is itself a list of ids; bundles cannot nest");
      }
    }
  }

  if (const auto* principals = EDGE_TRY(top.opt_array("principal"))) {
    for (const auto& item : *principals) {
      if (!item.is_table()) return top.error_at("principal", "expected an array of tables");
      Reader r(*item.as_table(), "principal");
      EDGE_TRY_VOID(only_keys(r, {"uid", "certs"}));
      auto uid = EDGE_TRY(r.opt_int("uid", 0, 0xFFFFFFFE));
      if (!uid) return r.error_at("uid", "missing required key");
      auto certs = EDGE_TRY(r.opt_string_array("certs"));
      if (!certs) return r.error_at("certs", "missing required key");
      c.principals.push_back({static_cast<uid_t>(*uid), std::move(*certs)});
    }
  }

  if (const auto* endpoints = EDGE_TRY(top.opt_table("endpoints"))) {
    Reader r(*endpoints, "endpoints");
    EDGE_TRY_VOID(only_keys(r, {"aziot_certd", "aziot_keyd"}));
    if (auto v = EDGE_TRY(r.opt_string("aziot_certd"))) c.endpoint = *v;
    if (auto v = EDGE_TRY(r.opt_string("aziot_keyd"))) c.keyd_endpoint = *v;
  }
  return c;
}
}  // namespace

bool valid_renewal_policy(const std::string& text) {
  auto number = [](std::string_view digits) -> std::optional<long> {
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    long n = 0;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return std::nullopt;
      n = n * 10 + (ch - '0');
    }
    return n;
  };
  std::string_view t(text);
  if (t.ends_with("%")) {
    auto n = number(t.substr(0, t.size() - 1));
    return n && *n >= 1 && *n <= 99;
  }
  for (std::string_view unit : {"min", "day"}) {
    if (t.ends_with(unit)) {
      auto n = number(t.substr(0, t.size() - unit.size()));
      return n && *n > 0;
    }
  }
  return false;
}

Result<Config> parse_config(const std::string& toml_text, const std::string& name) {
  auto table = EDGE_TRY(edge::config::parse(toml_text, name));
  return decode(table);
}

edge::config::Paths config_paths() {
  return edge::config::paths_from_env("AZIOT_CERTD_CONFIG", "AZIOT_CERTD_CONFIG_DIR",
                                      "/etc/aziot/certd/config.toml", "/etc/aziot/certd/config.d");
}

Result<Config> load_config(const edge::config::Paths& paths) {
  auto table = EDGE_TRY(edge::config::load(paths));
  return decode(table);
}

bool authorized(const Config& config, uid_t uid, const std::string& id) {
  if (uid == 0) return true;
  for (const auto& p : config.principals) {
    if (p.uid != uid) continue;
    for (const auto& pattern : p.certs)
      if (::fnmatch(pattern.c_str(), id.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace certd
