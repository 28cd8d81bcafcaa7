#include "cli/super_config.h"

#include <algorithm>
#include <set>

#include "cli/uris.h"
#include "common/base64.h"
#include "common/config.h"

namespace edge::cli {
namespace {

using config::Reader;

// Keys that only mean something at the top of the file. Found inside a table they were
// almost always typed below a [section] header by mistake (TOML puts them in that table).
const std::set<std::string, std::less<>> kTopLevelScalars = {
    "hostname",
    "parent_hostname",
    "local_gateway_hostname",
    "trust_bundle_cert",
    "allow_elevated_docker_permissions",
    "auto_reprovisioning_mode",
    "prefer_module_identity_cache",
    "cloud_timeout_sec",
    "cloud_retries",
    "additional_info",
    "imported_master_encryption_key",
};

std::string table_name(const std::string& path) { return "[" + path + "]"; }

// The dotted path of the table a Reader reads ("" for the root).
std::string path_of(const Reader& r) {
  std::string p = r.key_path("");
  return p.empty() ? p : p.substr(0, p.size() - 1);
}

class Parser {
 public:
  Parser(ParseOutput& out) : out_(out) {}

  // Flags keys a table does not know: a misplaced top-level key is an error (its value would
  // be silently lost), anything else a warning (upstream ignores unknown keys).
  Status check_keys(const Reader& r, const std::string& path,
                    std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, node] : r.table()) {
      std::string_view k = key.str();
      if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
      if (!path.empty()) EDGE_TRY_VOID(check_misplaced(r, path, k));
      warn_unknown(r, k);
    }
    return {};
  }

  Status check_misplaced(const Reader& r, const std::string& path, std::string_view key) {
    if (!kTopLevelScalars.contains(key)) return {};
    return r.error_at(key, "`" + std::string(key) + "` is a top-level setting but it is inside " +
                               table_name(path) +
                               ". TOML puts every key written below a [section] header into that "
                               "section: move `" +
                               std::string(key) + " = ...` above the first [section] header");
  }

  void warn_unknown(const Reader& r, std::string_view key) {
    const auto* node = r.table().get(key);
    std::string loc = node ? config::where(*node) : "";
    out_.warnings.push_back("unknown key \"" + r.key_path(key) + "\"" +
                            (loc.empty() ? "" : " at " + loc) + " is ignored");
  }

  Result<std::string> url(const Reader& r, std::string_view key) {
    auto text = EDGE_TRY(r.string(key));
    auto u = normalize_url(text);
    if (!u) return r.error_at(key, "invalid URL \"" + text + "\": " + u.error().message);
    return *u;
  }

  Result<std::optional<std::string>> opt_url(const Reader& r, std::string_view key) {
    if (!r.has(key)) return std::optional<std::string>{};
    return std::optional<std::string>{EDGE_TRY(url(r, key))};
  }

  // A URL whose file the services will read: remembered so apply can check it exists.
  Result<std::string> file_ref(const Reader& r, std::string_view key) {
    auto u = EDGE_TRY(url(r, key));
    out_.files.push_back({r.key_path(key), u});
    return u;
  }

  Result<std::string> key_location(const Reader& r, std::string_view key) {
    auto text = EDGE_TRY(r.string(key));
    auto loc = normalize_key_location(text);
    if (!loc)
      return r.error_at(key, "invalid key location \"" + text + "\": " + loc.error().message);
    if (url_scheme(*loc) == "file") out_.files.push_back({r.key_path(key), *loc});
    return *loc;
  }

  Result<Reader> sub(const Reader& r, std::string_view key, bool required) {
    const toml::table* t = EDGE_TRY(r.opt_table(key));
    if (!t) {
      if (required) return r.error_at(key, "missing required table");
      static const toml::table empty;
      return Reader(empty, r.key_path(key));
    }
    return Reader(*t, r.key_path(key));
  }

  Result<std::string> enum_string(const Reader& r, std::string_view key,
                                  std::initializer_list<std::string_view> allowed) {
    auto v = EDGE_TRY(r.string(key));
    if (std::find(allowed.begin(), allowed.end(), v) != allowed.end()) return v;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    return r.error_at(key, "unknown value \"" + v + "\"; expected one of " + list);
  }

  Result<std::string> policy(const Reader& r, std::string_view key) {
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

  Result<AutoRenew> auto_renew(const Reader& r) {
    EDGE_TRY_VOID(check_keys(r, path_of(r), {"rotate_key", "threshold", "retry"}));
    AutoRenew a;
    auto rotate = EDGE_TRY(r.opt_bool("rotate_key"));
    if (!rotate) return r.error_at("rotate_key", "missing required key");
    a.rotate_key = *rotate;
    a.threshold = EDGE_TRY(policy(r, "threshold"));
    a.retry = EDGE_TRY(policy(r, "retry"));
    return a;
  }

  Result<std::optional<CertSubject>> subject(const Reader& r) {
    if (auto cn = EDGE_TRY(r.opt_string("common_name"))) return CertSubject{cn, {}};
    const toml::table* t = EDGE_TRY(r.opt_table("subject"));
    if (!t) return std::optional<CertSubject>{};
    CertSubject s;
    Reader sr(*t, r.key_path("subject"));
    for (const auto& [k, v] : *t) s.subject[std::string(k.str())] = EDGE_TRY(sr.string(k.str()));
    return std::optional<CertSubject>{s};
  }

  void warn_http(const std::string& u) {
    if (url_scheme(u) == "http")
      out_.warnings.push_back(
          "Warning: EST server URL \"" + u +
          "\" is configured with unencrypted HTTP, which may expose device to man-in-the-middle "
          "attacks. To clear this warning, configure HTTPS for your EST server and update the "
          "URL.");
  }

  // username/password plus identity_* or bootstrap_identity_* in the same table.
  Result<EstAuth> est_auth(const Reader& r) {
    EstAuth a;
    bool user = r.has("username"), pass = r.has("password");
    if (user != pass)
      return r.error_at(user ? "username" : "password",
                        "username and password must be set together");
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

  Result<IssuanceOptions> issuance(const Reader& r, std::initializer_list<std::string_view> extra) {
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

  // The identity_cert / identity_pk pair of a provisioning table.
  Result<X509Identity> x509_identity(const Reader& r) {
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

  Result<SymmetricKey> symmetric_key(const Reader& parent, std::string_view key) {
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

  Result<Provisioning> provisioning(const Reader& root) {
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
        EDGE_TRY_VOID(check_keys(a, "provisioning.authentication",
                                 {"method", "identity_cert", "identity_pk"}));
        p.manual_auth = Provisioning::ManualAuth::X509;
        p.identity = EDGE_TRY(x509_identity(a));
      }
      return p;
    }
    if (*source == "dps") {
      p.source = Provisioning::Source::Dps;
      if (r.has("scope_id") && !r.has("id_scope"))
        return r.error_at("scope_id", "the DPS scope is named `id_scope` in config.toml");
      EDGE_TRY_VOID(check_keys(
          r, "provisioning", {"source", "global_endpoint", "id_scope", "attestation", "payload"}));
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

  Result<std::optional<Est>> est(const Reader& ci) {
    if (!ci.has("est")) return std::optional<Est>{};
    Reader r = EDGE_TRY(sub(ci, "est", true));
    EDGE_TRY_VOID(check_keys(r, "cert_issuance.est",
                             {"trusted_certs", "identity_auto_renew", "auth", "urls"}));
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

  Result<std::optional<LocalCa>> local_ca(const Reader& ci) {
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

  Result<AziotConfig> aziot(const Reader& r) {
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
          return m.error_at(
              name, "missing required key (all of keyd, certd, tpmd, identityd must be set)");
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
          return t.error_at("auth_key_index",
                            "expected an integer in range 0x00_00_00..=0x7F_FF_FF");
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

  // ---- iotedge-only settings ----

  Result<Table> agent(const Reader& root) {
    if (!root.has("agent")) return default_agent();
    Reader r = EDGE_TRY(sub(root, "agent", true));
    EDGE_TRY_VOID(check_keys(r, "agent", {"name", "type", "imagePullPolicy", "config", "env"}));
    Table a;
    auto name = EDGE_TRY(r.string("name"));
    if (name.find_first_not_of(" \t") == std::string::npos)
      return r.error_at("name", "module name cannot be empty");
    auto type = EDGE_TRY(r.string("type"));
    if (type.find_first_not_of(" \t") == std::string::npos)
      return r.error_at("type", "module type cannot be empty");
    a.set("name", name);
    a.set("type", type);
    std::string policy = "on-create";
    if (r.has("imagePullPolicy"))
      policy = EDGE_TRY(enum_string(r, "imagePullPolicy", {"on-create", "never"}));
    a.set("imagePullPolicy", policy);
    Reader c = EDGE_TRY(sub(r, "config", true));
    EDGE_TRY_VOID(check_keys(c, "agent.config",
                             {"image", "imageHash", "createOptions", "digest", "auth",
                              "allow_elevated_docker_permissions"}));
    Table config;
    auto image = EDGE_TRY(c.string("image"));
    if (image.find_first_not_of(" \t") == std::string::npos)
      return c.error_at("image", "image cannot be empty");
    config.set("image", image);
    if (auto h = EDGE_TRY(c.opt_string("imageHash"))) config.set("imageHash", *h);
    const toml::table* create = EDGE_TRY(c.opt_table("createOptions"));
    config.set("createOptions", create ? from_toml(*create) : Value(Table{}));
    if (auto d = EDGE_TRY(c.opt_string("digest"))) config.set("digest", *d);
    if (const toml::table* auth = EDGE_TRY(c.opt_table("auth"))) {
      Reader ar(*auth, "agent.config.auth");
      for (const auto& [k, v] : *auth)
        EDGE_TRY_VOID(check_misplaced(ar, "agent.config.auth", k.str()));
      Table t;
      for (auto k : {"username", "password", "email", "serveraddress"})
        if (auto v = EDGE_TRY(ar.opt_string(k))) t.set(k, *v);
      for (const auto& [k, v] : *auth)
        if (!t.find(k.str())) t.set(std::string(k.str()), from_toml(v));
      config.set("auth", t);
    }
    a.set("config", config);
    Table env;
    if (r.has("env")) {
      Reader e = EDGE_TRY(sub(r, "env", true));
      for (const auto& [k, v] : e.table()) {
        if (kTopLevelScalars.contains(k.str()))
          out_.warnings.push_back(
              "agent.env." + std::string(k.str()) + " at " + config::where(v) +
              " looks like a top-level setting written below [agent.env]; move it above the first "
              "[section] header if it was meant for IoT Edge itself");
        env.set(std::string(k.str()), EDGE_TRY(e.string(k.str())));
      }
    }
    a.set("env", env);
    return a;
  }

  Result<std::pair<std::string, std::string>> uri_pair(
      const Reader& root, std::string_view key, std::pair<std::string, std::string> defaults) {
    if (!root.has(key)) return defaults;
    Reader r = EDGE_TRY(sub(root, key, true));
    EDGE_TRY_VOID(check_keys(r, std::string(key), {"workload_uri", "management_uri"}));
    auto workload = EDGE_TRY(url(r, "workload_uri"));
    return std::pair{workload, EDGE_TRY(url(r, "management_uri"))};
  }

  Result<EdgeCa> edge_ca(const Reader& r) {
    EdgeCa ca;
    if (r.has("method")) {
      ca.kind = EdgeCa::Kind::Issued;
      ca.issued = EDGE_TRY(issuance(r, {}));
      return ca;
    }
    if (r.has("cert") || r.has("pk")) {
      EDGE_TRY_VOID(check_keys(r, "edge_ca", {"cert", "pk"}));
      ca.kind = EdgeCa::Kind::Preloaded;
      ca.cert = EDGE_TRY(file_ref(r, "cert"));
      if (!r.has("pk")) return r.error_at("pk", "missing required key");
      auto pk = EDGE_TRY(url(r, "pk"));
      if (url_scheme(pk) == "file") out_.files.push_back({"edge_ca.pk", pk});
      ca.pk = pk;
      return ca;
    }
    if (r.has("auto_generated_edge_ca_expiry_days")) {
      EDGE_TRY_VOID(check_keys(
          r, "edge_ca",
          {"auto_generated_edge_ca_expiry_days", "auto_renew", "common_name", "subject"}));
      ca.kind = EdgeCa::Kind::Quickstart;
      ca.expiry_days = *EDGE_TRY(r.opt_int("auto_generated_edge_ca_expiry_days", 1, UINT32_MAX));
      if (r.has("auto_renew")) {
        Reader sub_reader = EDGE_TRY(sub(r, "auto_renew", true));

        ca.auto_renew = EDGE_TRY(auto_renew(sub_reader));
      }
      ca.subject = EDGE_TRY(subject(r));
      return ca;
    }
    for (const auto& [key, node] : r.table())
      EDGE_TRY_VOID(check_misplaced(r, "edge_ca", key.str()));
    std::string loc = config::where(r.table());
    return invalid("invalid config" + (loc.empty() ? "" : " at " + loc) +
                   ": [edge_ca] must set `cert` and `pk`, or `method`, or "
                   "`auto_generated_edge_ca_expiry_days`");
  }

  Result<int64_t> duration(const Reader& r, std::string_view key) {
    std::string text = EDGE_TRY(r.string(key));
    // humantime syntax: "<n><unit>" groups, e.g. "1d", "7days", "12h 30m".
    static const std::vector<std::pair<std::string, int64_t>> units = {
        {"seconds", 1},      {"second", 1},      {"secs", 1},
        {"sec", 1},          {"s", 1},           {"minutes", 60},
        {"minute", 60},      {"mins", 60},       {"min", 60},
        {"m", 60},           {"hours", 3600},    {"hour", 3600},
        {"hrs", 3600},       {"hr", 3600},       {"h", 3600},
        {"days", 86400},     {"day", 86400},     {"d", 86400},
        {"weeks", 604800},   {"week", 604800},   {"w", 604800},
        {"months", 2630016}, {"month", 2630016}, {"M", 2630016},
        {"years", 31557600}, {"year", 31557600}, {"y", 31557600}};
    int64_t total = 0;
    size_t i = 0;
    bool any = false;
    while (i < text.size()) {
      if (text[i] == ' ') {
        ++i;
        continue;
      }
      size_t start = i;
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      if (i == start || i - start > 12) return r.error_at(key, "invalid duration \"" + text + "\"");
      int64_t n = std::stoll(text.substr(start, i - start));
      size_t ustart = i;
      while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
      std::string unit = text.substr(ustart, i - ustart);
      auto it =
          std::find_if(units.begin(), units.end(), [&](const auto& u) { return u.first == unit; });
      if (it == units.end())
        return r.error_at(key, "invalid duration \"" + text + "\": unknown unit \"" + unit + "\"");
      total += n * it->second;
      any = true;
    }
    if (!any) return r.error_at(key, "invalid duration \"" + text + "\"");
    return total;
  }

  Result<ImagePrune> image_gc(const Reader& r) {
    EDGE_TRY_VOID(check_keys(
        r, "image_garbage_collection",
        {"enabled", "cleanup_recurrence", "image_age_cleanup_threshold", "cleanup_time"}));
    ImagePrune p;
    if (r.has("cleanup_recurrence")) {
      p.cleanup_recurrence_secs = EDGE_TRY(duration(r, "cleanup_recurrence"));
      if (p.cleanup_recurrence_secs % 86400 != 0 || p.cleanup_recurrence_secs == 0)
        return r.error_at("cleanup_recurrence", "expected a duration that is a multiple of days");
    }
    if (r.has("image_age_cleanup_threshold"))
      p.image_age_cleanup_threshold_secs = EDGE_TRY(duration(r, "image_age_cleanup_threshold"));
    if (auto t = EDGE_TRY(r.opt_string("cleanup_time"))) {
      int h = -1, m = -1;
      char extra = 0;
      if (std::sscanf(t->c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
          m > 59)
        return r.error_at("cleanup_time", "expected a time of day \"HH:MM\", found \"" + *t + "\"");
      p.cleanup_time_minutes = h * 60 + m;
    }
    if (auto e = EDGE_TRY(r.opt_bool("enabled"))) p.enabled = *e;
    return p;
  }

  Result<Value> network(const Reader& m) {
    const auto* node = m.table().get("network");
    if (!node) return Value("azure-iot-edge");
    if (node->is_string()) return Value(node->as_string()->get());
    Reader n = EDGE_TRY(sub(m, "network", true));
    EDGE_TRY_VOID(check_keys(n, "moby_runtime.network", {"name", "ipv6", "ipam"}));
    Table out;
    out.set("name", EDGE_TRY(n.string("name")));
    if (auto v = EDGE_TRY(n.opt_bool("ipv6"))) out.set("ipv6", *v);
    if (n.has("ipam")) {
      Reader ipam = EDGE_TRY(sub(n, "ipam", true));
      EDGE_TRY_VOID(check_keys(ipam, "moby_runtime.network.ipam", {"config"}));
      Table ipam_out;
      if (const toml::array* configs = EDGE_TRY(ipam.opt_array("config"))) {
        Array list;
        for (const auto& item : *configs) {
          if (!item.is_table()) return ipam.error_at("config", "expected an array of tables");
          Reader c(*item.as_table(), "moby_runtime.network.ipam.config");
          EDGE_TRY_VOID(
              check_keys(c, "moby_runtime.network.ipam.config", {"gateway", "subnet", "ip_range"}));
          Table entry;
          for (auto k : {"gateway", "subnet", "ip_range"})
            if (auto v = EDGE_TRY(c.opt_string(k))) entry.set(k, *v);
          list.emplace_back(entry);
        }
        ipam_out.set("config", list);
      }
      out.set("ipam", ipam_out);
    }
    return Value(out);
  }

  Result<EdgeConfig> edge(const Reader& r) {
    EDGE_TRY_VOID(check_keys(r, "",
                             {"trust_bundle_cert",
                              "allow_elevated_docker_permissions",
                              "auto_reprovisioning_mode",
                              "imported_master_encryption_key",
                              "additional_info",
                              "iotedge_max_requests",
                              "hostname",
                              "parent_hostname",
                              "local_gateway_hostname",
                              "cloud_timeout_sec",
                              "cloud_retries",
                              "aziot_max_requests",
                              "prefer_module_identity_cache",
                              "provisioning",
                              "localid",
                              "aziot_keys",
                              "preloaded_keys",
                              "cert_issuance",
                              "preloaded_certs",
                              "tpm",
                              "endpoints",
                              "agent",
                              "connect",
                              "listen",
                              "watchdog",
                              "edge_ca",
                              "moby_runtime",
                              "image_garbage_collection"}));
    EdgeConfig c;
    c.aziot = EDGE_TRY(aziot(r));
    if (r.has("trust_bundle_cert"))
      c.trust_bundle_cert = EDGE_TRY(file_ref(r, "trust_bundle_cert"));
    c.allow_elevated_docker_permissions = EDGE_TRY(r.opt_bool("allow_elevated_docker_permissions"));
    if (r.has("auto_reprovisioning_mode"))
      c.auto_reprovisioning_mode = EDGE_TRY(enum_string(
          r, "auto_reprovisioning_mode", {"Dynamic", "AlwaysOnStartup", "OnErrorOnly"}));
    c.imported_master_encryption_key = EDGE_TRY(r.opt_string("imported_master_encryption_key"));
    if (r.has("additional_info")) {
      c.additional_info = EDGE_TRY(url(r, "additional_info"));
      if (url_scheme(*c.additional_info) != "file")
        return r.error_at("additional_info",
                          "unsupported additional_info scheme: " + url_scheme(*c.additional_info));
    }
    if (r.has("iotedge_max_requests")) {
      Reader m = EDGE_TRY(sub(r, "iotedge_max_requests", true));
      EDGE_TRY_VOID(check_keys(m, "iotedge_max_requests", {"management", "workload"}));
      auto mg = EDGE_TRY(m.opt_int("management", 1, INT32_MAX));
      auto wl = EDGE_TRY(m.opt_int("workload", 1, INT32_MAX));
      if (!mg) return m.error_at("management", "missing required key");
      if (!wl) return m.error_at("workload", "missing required key");
      c.iotedge_max_management = *mg;
      c.iotedge_max_workload = *wl;
    }
    c.agent = EDGE_TRY(agent(r));
    std::tie(c.connect_workload, c.connect_management) =
        EDGE_TRY(uri_pair(r, "connect", {c.connect_workload, c.connect_management}));
    std::tie(c.listen_workload, c.listen_management) =
        EDGE_TRY(uri_pair(r, "listen", {c.listen_workload, c.listen_management}));
    if (r.has("watchdog")) {
      Reader w = EDGE_TRY(sub(r, "watchdog", true));
      EDGE_TRY_VOID(check_keys(w, "watchdog", {"max_retries"}));
      const auto* m = w.table().get("max_retries");
      if (m && m->is_string()) {
        std::string v = m->as_string()->get();
        std::string low = v;
        for (auto& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (low != "infinite")
          return w.error_at("max_retries",
                            "expected \"infinite\" or a non-negative integer, found \"" + v + "\"");
      } else if (m) {
        c.watchdog_max_retries = EDGE_TRY(w.opt_int("max_retries", 0, UINT32_MAX));
      }
    }
    if (r.has("edge_ca")) {
      Reader sub_reader = EDGE_TRY(sub(r, "edge_ca", true));

      c.edge_ca = EDGE_TRY(edge_ca(sub_reader));
    }
    if (r.has("moby_runtime")) {
      Reader m = EDGE_TRY(sub(r, "moby_runtime", true));
      EDGE_TRY_VOID(check_keys(m, "moby_runtime", {"uri", "network", "content_trust"}));
      c.moby_uri = EDGE_TRY(url(m, "uri"));
      c.moby_network = EDGE_TRY(network(m));
      if (m.has("content_trust")) {
        Reader ct = EDGE_TRY(sub(m, "content_trust", true));
        EDGE_TRY_VOID(check_keys(ct, "moby_runtime.content_trust", {"ca_certs"}));
        c.has_content_trust = true;
        if (ct.has("ca_certs")) {
          Reader cc = EDGE_TRY(sub(ct, "ca_certs", true));
          std::map<std::string, std::string> certs;
          for (const auto& [k, v] : cc.table()) {
            EDGE_TRY_VOID(check_misplaced(cc, "moby_runtime.content_trust.ca_certs", k.str()));
            certs[std::string(k.str())] = EDGE_TRY(file_ref(cc, k.str()));
          }
          c.content_trust_ca_certs = certs;
        }
      }
    }
    if (r.has("image_garbage_collection")) {
      Reader sub_reader = EDGE_TRY(sub(r, "image_garbage_collection", true));

      c.image_garbage_collection = EDGE_TRY(image_gc(sub_reader));
    }
    return c;
  }

 private:
  ParseOutput& out_;
};

Result<toml::table> parse_toml(std::string_view text, const std::string& source_name) {
  auto parsed = config::parse(text, source_name);
  if (parsed) return parsed;
  const std::string& m = parsed.error().message;
  if (m.find("expected '=', saw ':'") != std::string::npos)
    return invalid(m +
                   "\n  hint: TOML sets values with `key = value`; `key: value` is YAML syntax");
  if (m.find("could not determine value type") != std::string::npos)
    return invalid(
        m + "\n  hint: text values must be quoted, e.g. auto_reprovisioning_mode = \"Dynamic\"");
  return parsed;
}

// Settings that parse but that the services could not act on: certd would fail to issue.
void warn_unusable_issuance(const AziotConfig& c, const std::string& key_path,
                            const std::string& cert_id, const IssuanceOptions& o,
                            std::vector<std::string>& warnings) {
  if (o.method == IssuanceMethod::LocalCa && !c.local_ca)
    warnings.push_back(key_path +
                       " uses method = \"local_ca\" but [cert_issuance.local_ca] is not "
                       "configured; aziot-certd will not be able to issue this certificate");
  if (o.method != IssuanceMethod::Est) return;
  bool has_url =
      o.url || (c.est && (c.est->urls.contains(cert_id) || c.est->urls.contains("default")));
  if (!has_url)
    warnings.push_back(key_path +
                       " uses method = \"est\" but no EST URL is set (url, or "
                       "[cert_issuance.est.urls] default); aziot-certd will not be able to issue "
                       "this certificate");
  bool has_auth = (o.auth && (o.auth->basic || o.auth->x509)) ||
                  (c.est && c.est->auth && (c.est->auth->basic || c.est->auth->x509));
  if (!has_auth)
    warnings.push_back(
        key_path +
        " uses method = \"est\" but no EST authentication is set "
        "(username/password or an identity certificate, here or in [cert_issuance.est.auth])");
}

void consistency_warnings(const AziotConfig& c, const std::optional<EdgeCa>& edge_ca,
                          std::vector<std::string>& warnings) {
  const Provisioning& p = c.provisioning;
  if (p.identity.issued) {
    std::string path = p.source == Provisioning::Source::Dps
                           ? "provisioning.attestation.identity_cert"
                           : "provisioning.authentication.identity_cert";
    warn_unusable_issuance(c, path, "device-id", *p.identity.issued, warnings);
  }
  if (c.local_ca && c.local_ca->issued)
    warn_unusable_issuance(c, "cert_issuance.local_ca.cert", "local-ca", *c.local_ca->issued,
                           warnings);
  if (edge_ca && edge_ca->kind == EdgeCa::Kind::Issued)
    warn_unusable_issuance(c, "edge_ca", "aziot-edged-ca", edge_ca->issued, warnings);
}

}  // namespace

Table default_agent() {
  Table a;
  a.set("name", "edgeAgent");
  a.set("type", "docker");
  a.set("imagePullPolicy", "on-create");
  Table config;
  config.set("image", "mcr.microsoft.com/azureiotedge-agent:1.6");
  config.set("createOptions", Table{});
  a.set("config", config);
  a.set("env", Table{});
  return a;
}

Value auto_renew_value(const AutoRenew& a) {
  Table t;
  t.set("rotate_key", a.rotate_key);
  t.set("threshold", a.threshold);
  t.set("retry", a.retry);
  return t;
}

Result<std::string> base64_decode_ignore_pad(std::string_view text) {
  if (auto d = base64::decode(text, false)) return *d;
  // Earlier releases accepted unpadded keys; keep accepting them (but only them).
  if (text.find('=') == std::string_view::npos)
    if (auto d = base64::decode(text, true)) return *d;
  return invalid("could not be decoded from base64");
}

Result<ConnectionString> parse_connection_string(std::string_view text) {
  ConnectionString cs;
  std::optional<std::string> host, device, key;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(';', start);
    std::string_view part =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    auto eq = part.find('=');
    if (eq != std::string_view::npos) {
      auto k = part.substr(0, eq);
      std::string v(part.substr(eq + 1));
      if (k == "HostName") host = v;
      if (k == "DeviceId") device = v;
      if (k == "SharedAccessKey") key = v;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  if (!host)
    return invalid(R"(connection string is invalid: required parameter "HostName" is missing)");
  if (!device)
    return invalid(R"(connection string is invalid: required parameter "DeviceId" is missing)");
  if (!key)
    return invalid(
        R"(connection string is invalid: required parameter "SharedAccessKey" is missing)");
  auto bytes = base64_decode_ignore_pad(*key);
  if (!bytes)
    return invalid(
        R"(connection string is invalid: connection string's "SharedAccessKey" parameter could not be decoded from base64)");
  cs.hostname = *host;
  cs.device_id = *device;
  cs.key_bytes = *bytes;
  return cs;
}

Result<EdgeConfig> parse_edge_config(std::string_view text, const std::string& source_name,
                                     ParseOutput& out) {
  auto root = EDGE_TRY(parse_toml(text, source_name));
  Parser p(out);
  auto config = EDGE_TRY(p.edge(Reader(root)));
  consistency_warnings(config.aziot, config.edge_ca, out.warnings);
  return config;
}

Result<AziotConfig> parse_aziot_config(std::string_view text, const std::string& source_name,
                                       ParseOutput& out) {
  auto root = EDGE_TRY(parse_toml(text, source_name));
  Parser p(out);
  Reader r(root);
  EDGE_TRY_VOID(
      p.check_keys(r, "",
                   {"hostname", "parent_hostname", "local_gateway_hostname", "cloud_timeout_sec",
                    "cloud_retries", "aziot_max_requests", "prefer_module_identity_cache",
                    "provisioning", "localid", "aziot_keys", "preloaded_keys", "cert_issuance",
                    "preloaded_certs", "tpm", "endpoints"}));
  auto config = EDGE_TRY(p.aziot(r));
  consistency_warnings(config, std::nullopt, out.warnings);
  return config;
}

}  // namespace edge::cli
