// Typed, validating reads of the identity-service part of the super-config.
#include <cctype>
#include <cstdlib>

#include "cli/config_parser.h"

namespace edge::cli::detail {

Status Parser::check_keys(const Reader& r, const std::string& path,
                          std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, node] : r.table()) {
    std::string_view k = key.str();
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    if (!path.empty()) EDGE_TRY_VOID(check_misplaced(r, path, k));
    warn_unknown(r, k);
  }
  return {};
}

Status Parser::check_misplaced(const Reader& r, const std::string& path, std::string_view key) {
  if (!kTopLevelScalars.contains(key)) return {};
  return r.error_at(key, "`" + std::string(key) + "` is a top-level setting but it is inside " +
                             table_name(path) +
                             ". TOML puts every key written below a [section] header into that "
                             "section: move `" +
                             std::string(key) + " = ...` above the first [section] header");
}

void Parser::warn_unknown(const Reader& r, std::string_view key) {
  const auto* node = r.table().get(key);
  std::string loc = node ? config::where(*node) : "";
  out_.warnings.push_back("unknown key \"" + r.key_path(key) + "\"" +
                          (loc.empty() ? "" : " at " + loc) + " is ignored");
}

Result<std::string> Parser::url(const Reader& r, std::string_view key) {
  auto text = EDGE_TRY(r.string(key));
  auto u = normalize_url(text);
  if (!u) return r.error_at(key, "invalid URL \"" + text + "\": " + u.error().message);
  return *u;
}

Result<std::optional<std::string>> Parser::opt_url(const Reader& r, std::string_view key) {
  if (!r.has(key)) return std::optional<std::string>{};
  return std::optional<std::string>{EDGE_TRY(url(r, key))};
}

Result<std::string> Parser::file_ref(const Reader& r, std::string_view key) {
  auto u = EDGE_TRY(url(r, key));
  out_.files.push_back({r.key_path(key), u});
  return u;
}

Result<std::string> Parser::key_location(const Reader& r, std::string_view key) {
  auto text = EDGE_TRY(r.string(key));
  auto loc = normalize_key_location(text);
  if (!loc) return r.error_at(key, "invalid key location \"" + text + "\": " + loc.error().message);
  if (url_scheme(*loc) == "file") out_.files.push_back({r.key_path(key), *loc});
  return *loc;
}

Result<Reader> Parser::sub(const Reader& r, std::string_view key, bool required) {
  const toml::table* t = EDGE_TRY(r.opt_table(key));
  if (!t) {
    if (required) return r.error_at(key, "missing required table");
    static const toml::table empty;
    return Reader(empty, r.key_path(key));
  }
  return Reader(*t, r.key_path(key));
}

Result<std::string> Parser::enum_string(const Reader& r, std::string_view key,
                                        std::initializer_list<std::string_view> allowed) {
  auto v = EDGE_TRY(r.string(key));
  if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
  return r.error_at(key, "unknown value \"" + v + "\"; expected one of " + list);
}

Result<std::string> Parser::policy(const Reader& r, std::string_view key) {
  std::string text = EDGE_TRY(r.string(key));
  std::string num = text, unit;
  if (!num.empty() && num.back() == '%') {
    unit = "%";
    num.pop_back();
  } else if (num.size() > 3 && (num.ends_with("min") || num.ends_with("day"))) {
    unit = num.substr(num.size() - 3);
    num.resize(num.size() - 3);
  } else {
    return r.error_at(
        key, "bad units for policy \"" + text + "\"; use \"<n>%\", \"<n>min\" or \"<n>day\"");
  }
  int64_t value = 0;
  bool digits = !num.empty() && num.size() < 15;
  for (char c : num) digits &= c >= '0' && c <= '9';
  if (!digits) return r.error_at(key, "policy \"" + text + "\" could not be parsed as number");
  value = std::stoll(num);
  if (value <= 0) return r.error_at(key, "renewal policy values must be positive");
  if (unit == "%") {
    if (value >= 100) return r.error_at(key, "lifetime percentage must be less than 100");
    return std::to_string(value) + "%";
  }
  int64_t secs = unit == "min" ? value * 60 : value * 86400;
  return secs % 86400 == 0 ? std::to_string(secs / 86400) + "day"
                           : std::to_string(secs / 60) + "min";
}

Result<AutoRenew> Parser::auto_renew(const Reader& r) {
  EDGE_TRY_VOID(check_keys(r, path_of(r), {"rotate_key", "threshold", "retry"}));
  AutoRenew a;
  auto rotate = EDGE_TRY(r.opt_bool("rotate_key"));
  if (!rotate) return r.error_at("rotate_key", "missing required key");
  a.rotate_key = *rotate;
  a.threshold = EDGE_TRY(policy(r, "threshold"));
  a.retry = EDGE_TRY(policy(r, "retry"));
  return a;
}

Result<std::optional<CertSubject>> Parser::subject(const Reader& r) {
  if (auto cn = EDGE_TRY(r.opt_string("common_name"))) return CertSubject{cn, {}};
  const toml::table* t = EDGE_TRY(r.opt_table("subject"));
  if (!t) return std::optional<CertSubject>{};
  CertSubject s;
  Reader sr(*t, r.key_path("subject"));
  for (const auto& [k, v] : *t) s.subject[std::string(k.str())] = EDGE_TRY(sr.string(k.str()));
  return std::optional<CertSubject>{s};
}

void Parser::warn_http(const std::string& u) {
  if (url_scheme(u) == "http")
    out_.warnings.push_back(
        "Warning: EST server URL \"" + u +
        "\" is configured with unencrypted HTTP, which may expose device to man-in-the-middle "
        "attacks. To clear this warning, configure HTTPS for your EST server and update the "
        "URL.");
}

Result<EstAuth> Parser::est_auth(const Reader& r) {
  EstAuth a;
  bool user = r.has("username"), pass = r.has("password");
  if (user != pass)
    return r.error_at(user ? "username" : "password", "username and password must be set together");
  if (user) {
    auto username = EDGE_TRY(r.string("username"));
    a.basic = EstAuthBasic{username, EDGE_TRY(r.string("password"))};
  }
  for (bool bootstrap : {true, false}) {
    std::string prefix = bootstrap ? "bootstrap_identity_" : "identity_";
    bool has_cert = r.has(prefix + "cert"), has_pk = r.has(prefix + "pk");
    if (!has_cert && !has_pk) continue;
    if (has_cert != has_pk)
      return r.error_at(prefix + (has_cert ? "cert" : "pk"),
                        prefix + "cert and " + prefix + "pk must be set together");
    if (a.x509) continue;  // bootstrap wins, as upstream's untagged enum tries it first
    const auto* node = r.table().get(prefix + "cert");
    if (node && !node->is_string()) continue;  // identity_cert = { method = ... } is not auth
    auto cert = EDGE_TRY(file_ref(r, prefix + "cert"));
    a.x509 = EstAuthX509{bootstrap, cert, EDGE_TRY(key_location(r, prefix + "pk"))};
  }
  return a;
}

Result<IssuanceOptions> Parser::issuance(const Reader& r,
                                         std::initializer_list<std::string_view> extra) {
  IssuanceOptions o;
  auto method = EDGE_TRY(enum_string(r, "method", {"est", "local_ca", "self_signed"}));
  o.method = method == "est"        ? IssuanceMethod::Est
             : method == "local_ca" ? IssuanceMethod::LocalCa
                                    : IssuanceMethod::SelfSigned;
  std::vector<std::string_view> allowed = {"method", "expiry_days", "auto_renew", "common_name",
                                           "subject"};
  allowed.insert(allowed.end(), extra);
  if (o.method == IssuanceMethod::Est) {
    for (auto k : {"url", "username", "password", "identity_cert", "identity_pk",
                   "bootstrap_identity_cert", "bootstrap_identity_pk"})
      allowed.push_back(k);
    o.url = EDGE_TRY(opt_url(r, "url"));
    if (o.url) warn_http(*o.url);
    o.auth = EDGE_TRY(est_auth(r));
  }
  for (const auto& [key, node] : r.table()) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
    EDGE_TRY_VOID(check_misplaced(r, path_of(r), key.str()));
    warn_unknown(r, key.str());
  }
  o.expiry_days = EDGE_TRY(r.opt_int("expiry_days", 0, UINT32_MAX));
  if (o.expiry_days && *o.expiry_days == 0)
    return r.error_at("expiry_days", "expiry_days must be greater than 0");
  if (r.has("auto_renew")) {
    Reader sub_reader = EDGE_TRY(sub(r, "auto_renew", true));

    o.auto_renew = EDGE_TRY(auto_renew(sub_reader));
  }
  o.subject = EDGE_TRY(subject(r));
  return o;
}

Result<X509Identity> Parser::x509_identity(const Reader& r) {
  X509Identity id;
  const auto* node = r.table().get("identity_cert");
  if (!node) return r.error_at("identity_cert", "missing required key");
  if (node->is_table()) {
    {
      Reader sub_reader = EDGE_TRY(sub(r, "identity_cert", true));

      id.issued = EDGE_TRY(issuance(sub_reader, {}));
    }
    return id;
  }
  id.cert = EDGE_TRY(file_ref(r, "identity_cert"));
  if (!r.has("identity_pk")) return r.error_at("identity_pk", "missing required key");
  id.pk = EDGE_TRY(key_location(r, "identity_pk"));
  return id;
}

Result<SymmetricKey> Parser::symmetric_key(const Reader& parent, std::string_view key) {
  Reader r = EDGE_TRY(sub(parent, key, true));
  EDGE_TRY_VOID(check_keys(r, parent.key_path(key), {"value", "uri"}));
  SymmetricKey k;
  if (auto v = EDGE_TRY(r.opt_string("value"))) {
    auto bytes = base64_decode_ignore_pad(*v);
    if (!bytes) return r.error_at("value", bytes.error().message);
    k.bytes = *bytes;
  } else if (r.has("uri")) {
    k.uri = EDGE_TRY(key_location(r, "uri"));
  } else {
    return parent.error_at(key, "expected { value = \"<base64>\" } or { uri = \"<key URI>\" }");
  }
  return k;
}

Result<Provisioning> Parser::provisioning(const Reader& root) {
  Reader r = EDGE_TRY(sub(root, "provisioning", true));
  Provisioning p;
  auto source = EDGE_TRY(r.opt_string("source"));
  if (!source)
    return r.error_at("source", "missing required key (\"manual\", \"dps\" or \"none\")");
  if (*source == "manual") {
    p.source = Provisioning::Source::Manual;
    if (r.has("connection_string")) {
      EDGE_TRY_VOID(check_keys(r, "provisioning", {"source", "connection_string"}));
      p.connection_string = EDGE_TRY(r.string("connection_string"));
      auto cs = parse_connection_string(*p.connection_string);
      if (!cs) return r.error_at("connection_string", cs.error().message);
      return p;
    }
    EDGE_TRY_VOID(check_keys(r, "provisioning",
                             {"source", "iothub_hostname", "device_id", "authentication"}));
    p.iothub_hostname = EDGE_TRY(r.string("iothub_hostname"));
    p.device_id = EDGE_TRY(r.string("device_id"));
    Reader a = EDGE_TRY(sub(r, "authentication", true));
    auto method = EDGE_TRY(enum_string(a, "method", {"sas", "x509"}));
    if (method == "sas") {
      EDGE_TRY_VOID(check_keys(a, path_of(a), {"method", "device_id_pk"}));
      p.manual_auth = Provisioning::ManualAuth::Sas;
      p.device_id_pk = EDGE_TRY(symmetric_key(a, "device_id_pk"));
    } else {
      EDGE_TRY_VOID(
          check_keys(a, "provisioning.authentication", {"method", "identity_cert", "identity_pk"}));
      p.manual_auth = Provisioning::ManualAuth::X509;
      p.identity = EDGE_TRY(x509_identity(a));
    }
    return p;
  }
  if (*source == "dps") {
    p.source = Provisioning::Source::Dps;
    if (r.has("scope_id") && !r.has("id_scope"))
      return r.error_at("scope_id", "the DPS scope is named `id_scope` in config.toml");
    EDGE_TRY_VOID(check_keys(r, "provisioning",
                             {"source", "global_endpoint", "id_scope", "attestation", "payload"}));
    p.global_endpoint = EDGE_TRY(url(r, "global_endpoint"));
    p.id_scope = EDGE_TRY(r.string("id_scope"));
    if (r.has("payload")) {
      Reader pl = EDGE_TRY(sub(r, "payload", true));
      p.payload_uri = EDGE_TRY(file_ref(pl, "uri"));
    }
    Reader a = EDGE_TRY(sub(r, "attestation", true));
    auto method = EDGE_TRY(enum_string(a, "method", {"symmetric_key", "x509", "tpm"}));
    if (method == "symmetric_key") {
      EDGE_TRY_VOID(check_keys(a, "provisioning.attestation",
                               {"method", "registration_id", "symmetric_key"}));
      p.attestation = Provisioning::Attestation::SymmetricKey;
      p.registration_id = EDGE_TRY(a.string("registration_id"));
      p.symmetric_key = EDGE_TRY(symmetric_key(a, "symmetric_key"));
    } else if (method == "x509") {
      EDGE_TRY_VOID(check_keys(a, "provisioning.attestation",
                               {"method", "registration_id", "identity_cert", "identity_pk"}));
      p.attestation = Provisioning::Attestation::X509;
      p.registration_id = EDGE_TRY(a.opt_string("registration_id"));
      p.identity = EDGE_TRY(x509_identity(a));
    } else {
      EDGE_TRY_VOID(check_keys(a, "provisioning.attestation", {"method", "registration_id"}));
      p.attestation = Provisioning::Attestation::Tpm;
      p.registration_id = EDGE_TRY(a.string("registration_id"));
    }
    return p;
  }
  if (*source == "none") {
    p.source = Provisioning::Source::None;
    EDGE_TRY_VOID(check_keys(r, "provisioning", {"source"}));
    return p;
  }
  return r.error_at("source", "unknown provisioning source \"" + *source +
                                  "\"; expected one of \"manual\", \"dps\", \"none\"");
}

Result<std::optional<Est>> Parser::est(const Reader& ci) {
  if (!ci.has("est")) return std::optional<Est>{};
  Reader r = EDGE_TRY(sub(ci, "est", true));
  EDGE_TRY_VOID(
      check_keys(r, "cert_issuance.est", {"trusted_certs", "identity_auto_renew", "auth", "urls"}));
  Est e;
  if (const toml::array* a = EDGE_TRY(r.opt_array("trusted_certs"))) {
    for (size_t i = 0; i < a->size(); ++i) {
      const auto* s = a->get(i)->as_string();
      if (!s) return r.error_at("trusted_certs", "expected an array of file:// URLs");
      auto u = normalize_url(s->get());
      if (!u)
        return r.error_at("trusted_certs",
                          "invalid URL \"" + s->get() + "\": " + u.error().message);
      out_.files.push_back({"cert_issuance.est.trusted_certs[" + std::to_string(i) + "]", *u});
      e.trusted_certs.push_back(*u);
    }
  }
  if (r.has("identity_auto_renew")) {
    Reader sub_reader = EDGE_TRY(sub(r, "identity_auto_renew", true));

    e.identity_auto_renew = EDGE_TRY(auto_renew(sub_reader));
  }
  if (r.has("auth")) {
    Reader a = EDGE_TRY(sub(r, "auth", true));
    EDGE_TRY_VOID(check_keys(a, "cert_issuance.est.auth",
                             {"username", "password", "identity_cert", "identity_pk",
                              "bootstrap_identity_cert", "bootstrap_identity_pk"}));
    e.auth = EDGE_TRY(est_auth(a));
  }
  if (r.has("urls")) {
    Reader u = EDGE_TRY(sub(r, "urls", true));
    for (const auto& [k, v] : u.table()) {
      EDGE_TRY_VOID(check_misplaced(u, "cert_issuance.est.urls", k.str()));
      auto value = EDGE_TRY(url(u, k.str()));
      warn_http(value);
      e.urls[std::string(k.str())] = value;
    }
  }
  return std::optional<Est>{e};
}

Result<std::optional<LocalCa>> Parser::local_ca(const Reader& ci) {
  if (!ci.has("local_ca")) return std::optional<LocalCa>{};
  Reader r = EDGE_TRY(sub(ci, "local_ca", true));
  LocalCa l;
  const auto* cert = r.table().get("cert");
  if (cert && cert->is_table()) {
    EDGE_TRY_VOID(check_keys(r, "cert_issuance.local_ca", {"cert"}));
    {
      Reader sub_reader = EDGE_TRY(sub(r, "cert", true));

      l.issued = EDGE_TRY(issuance(sub_reader, {}));
    }
    return std::optional<LocalCa>{l};
  }
  EDGE_TRY_VOID(check_keys(r, "cert_issuance.local_ca", {"cert", "pk"}));
  l.cert = EDGE_TRY(file_ref(r, "cert"));
  if (!r.has("pk")) return r.error_at("pk", "missing required key");
  l.pk = EDGE_TRY(key_location(r, "pk"));
  return std::optional<LocalCa>{l};
}

Result<AziotConfig> Parser::aziot(const Reader& r) {
  AziotConfig c;
  c.hostname = EDGE_TRY(r.opt_string("hostname"));
  if (r.has("parent_hostname") && r.has("local_gateway_hostname"))
    return r.error_at(
        "local_gateway_hostname",
        "duplicate field: parent_hostname and local_gateway_hostname are the same setting");
  c.parent_hostname = EDGE_TRY(r.opt_string("parent_hostname"));
  if (!c.parent_hostname) c.parent_hostname = EDGE_TRY(r.opt_string("local_gateway_hostname"));
  if (auto t = EDGE_TRY(r.opt_int("cloud_timeout_sec", 0, INT64_MAX))) {
    if (*t < 70)
      return r.error_at("cloud_timeout_sec", "cloud_timeout_sec must be at least 70 seconds");
    c.cloud_timeout_sec = *t;
  }
  if (auto t = EDGE_TRY(r.opt_int("cloud_retries", 0, UINT32_MAX))) c.cloud_retries = *t;
  if (r.has("aziot_max_requests")) {
    Reader m = EDGE_TRY(sub(r, "aziot_max_requests", true));
    EDGE_TRY_VOID(check_keys(m, "aziot_max_requests", {"keyd", "certd", "tpmd", "identityd"}));
    for (auto [name, field] : {std::pair{"keyd", &c.aziot_max_requests.keyd},
                               {"certd", &c.aziot_max_requests.certd},
                               {"tpmd", &c.aziot_max_requests.tpmd},
                               {"identityd", &c.aziot_max_requests.identityd}}) {
      auto v = EDGE_TRY(m.opt_int(name, 1, INT32_MAX));
      if (!v)
        return m.error_at(name,
                          "missing required key (all of keyd, certd, tpmd, identityd must be set)");
      *field = *v;
    }
  }
  if (auto b = EDGE_TRY(r.opt_bool("prefer_module_identity_cache")))
    c.prefer_module_identity_cache = *b;
  c.provisioning = EDGE_TRY(provisioning(r));
  if (c.provisioning.source == Provisioning::Source::Dps && c.parent_hostname)
    return r.error_at(r.has("parent_hostname") ? "parent_hostname" : "local_gateway_hostname",
                      "DPS provisioning is not supported in nested mode");
  if (r.has("localid")) {
    Reader l = EDGE_TRY(sub(r, "localid", true));
    EDGE_TRY_VOID(check_keys(l, "localid", {"domain"}));
    c.localid_domain = EDGE_TRY(l.string("domain"));
  }
  if (r.has("aziot_keys")) {
    Reader k = EDGE_TRY(sub(r, "aziot_keys", true));
    for (const auto& [key, v] : k.table()) {
      EDGE_TRY_VOID(check_misplaced(k, "aziot_keys", key.str()));
      if (key.str() != "pkcs11_lib_path" && key.str() != "pkcs11_base_slot" &&
          key.str() != "homedir_path")
        out_.warnings.push_back(
            "aziot_keys." + std::string(key.str()) +
            " is not a parameter libaziot-keys knows; aziot-keyd may refuse to start");
      c.aziot_keys[std::string(key.str())] = EDGE_TRY(k.string(key.str()));
    }
  }
  if (r.has("preloaded_keys")) {
    Reader k = EDGE_TRY(sub(r, "preloaded_keys", true));
    for (const auto& [key, v] : k.table()) {
      EDGE_TRY_VOID(check_misplaced(k, "preloaded_keys", key.str()));
      c.preloaded_keys[std::string(key.str())] = EDGE_TRY(key_location(k, key.str()));
    }
  }
  if (r.has("cert_issuance")) {
    Reader ci = EDGE_TRY(sub(r, "cert_issuance", true));
    EDGE_TRY_VOID(check_keys(ci, "cert_issuance", {"est", "local_ca"}));
    c.est = EDGE_TRY(est(ci));
    c.local_ca = EDGE_TRY(local_ca(ci));
  }
  if (r.has("preloaded_certs")) {
    Reader pc = EDGE_TRY(sub(r, "preloaded_certs", true));
    for (const auto& [key, v] : pc.table()) {
      EDGE_TRY_VOID(check_misplaced(pc, "preloaded_certs", key.str()));
      PreloadedCert cert;
      if (v.is_array()) {
        auto ids = EDGE_TRY(pc.opt_string_array(key.str()));
        if (ids) cert.ids = std::move(*ids);
      } else {
        cert.uri = EDGE_TRY(file_ref(pc, key.str()));
      }
      c.preloaded_certs[std::string(key.str())] = cert;
    }
  }
  if (r.has("tpm")) {
    Reader t = EDGE_TRY(sub(r, "tpm", true));
    EDGE_TRY_VOID(check_keys(t, "tpm", {"tcti", "auth_key_index", "hierarchy_authorization"}));
    c.tpm.tcti = EDGE_TRY(t.opt_string("tcti"));
    const auto* index = t.table().get("auth_key_index");
    if (index && index->is_string()) {
      // The shipped template quotes it; accept the string form instead of failing later.
      std::string s = index->as_string()->get();
      std::string digits;
      for (char ch : s)
        if (ch != '_') digits += ch;
      char* end = nullptr;
      long long v = std::strtoll(digits.c_str(), &end, 0);
      if (digits.empty() || *end != '\0' || v < 0 || v > 0x7FFFFF)
        return t.error_at("auth_key_index", "expected an integer in range 0x00_00_00..=0x7F_FF_FF");
      c.tpm.auth_key_index = v;
    } else {
      c.tpm.auth_key_index = EDGE_TRY(t.opt_int("auth_key_index", 0, 0x7FFFFF));
    }
    if (t.has("hierarchy_authorization")) {
      Reader h = EDGE_TRY(sub(t, "hierarchy_authorization", true));
      EDGE_TRY_VOID(check_keys(h, "tpm.hierarchy_authorization", {"endorsement", "owner"}));
      c.tpm.endorsement = EDGE_TRY(h.opt_string("endorsement"));
      c.tpm.owner = EDGE_TRY(h.opt_string("owner"));
    }
  }
  return c;
}

}  // namespace edge::cli::detail
