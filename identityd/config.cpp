#include "identityd/config.h"

#include <algorithm>
#include <set>

#include "common/config.h"
#include "common/crypto.h"
#include "common/http/message.h"
#include "identityd/renewal.h"

namespace identityd {
namespace {
using edge::invalid;
using edge::config::Reader;

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// A key holding either a string (a CN) or a table of DN fields.
Result<std::optional<Subject>> opt_subject(const Reader& r, std::string_view key) {
  const auto* n = r.table().get(key);
  if (!n) return std::optional<Subject>();
  Subject s;
  if (n->is_string()) {
    s.fields.emplace_back("CN", n->as_string()->get());
  } else if (n->is_table()) {
    for (const auto& [k, v] : *n->as_table()) {
      if (!v.is_string()) return r.error_at(key, "expected DN fields with string values");
      s.fields.emplace_back(upper(std::string(k.str())), v.as_string()->get());
    }
    if (s.fields.empty()) return r.error_at(key, "empty subject");
  } else {
    return r.error_at(key, "expected a string or a table of DN fields");
  }
  return std::optional<Subject>(std::move(s));
}

Result<std::string> required_id(const Reader& r, std::string_view key) {
  auto v = EDGE_TRY(r.string(key));
  if (v.empty()) return r.error_at(key, "must not be empty");
  if (v.size() > 256) return r.error_at(key, "longer than 256 characters");
  return v;
}

Result<std::optional<AutoRenew>> opt_auto_renew(const Reader& r, std::string_view key) {
  const auto* t = EDGE_TRY(r.opt_table(key));
  if (!t) return std::optional<AutoRenew>();
  Reader a(*t, r.key_path(key));
  AutoRenew out;
  if (auto v = EDGE_TRY(a.opt_bool("rotate_key"))) out.rotate_key = *v;
  if (auto v = EDGE_TRY(a.opt_string("threshold"))) out.threshold = *v;
  if (auto v = EDGE_TRY(a.opt_string("retry"))) out.retry = *v;
  if (auto p = parse_renew_policy(out.threshold); !p)
    return a.error_at("threshold", p.error().message);
  if (auto p = parse_renew_policy(out.retry); !p) return a.error_at("retry", p.error().message);
  return std::optional<AutoRenew>(out);
}

Status check_hostname(const Reader& r, std::string_view key, const std::string& host) {
  if (host.empty() || host.size() > 255) return r.error_at(key, "invalid host name");
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
          c == ':'))
      return r.error_at(key, "invalid character in host name \"" + host + "\"");
  return {};
}

Result<Provisioning> decode_provisioning(const toml::table& t) {
  Reader r(t, "provisioning");
  Provisioning p;
  if (auto gw = EDGE_TRY(r.opt_string("local_gateway_hostname"))) {
    EDGE_TRY_VOID(check_hostname(r, "local_gateway_hostname", *gw));
    p.local_gateway_hostname = *gw;
  }
  auto source = EDGE_TRY(r.string("source"));
  if (source == "manual") {
    p.source = Source::Manual;
    if (r.has("connection_string"))
      return r.error_at(
          "connection_string",
          "identityd takes iothub_hostname, device_id and [provisioning.authentication]; "
          "connection strings belong in /etc/aziot/config.toml (iotedge config apply)");
    p.iothub_hostname = EDGE_TRY(r.string("iothub_hostname"));
    EDGE_TRY_VOID(check_hostname(r, "iothub_hostname", p.iothub_hostname));
    p.device_id = EDGE_TRY(required_id(r, "device_id"));
    const auto* auth = EDGE_TRY(r.opt_table("authentication"));
    if (!auth) return r.error_at("authentication", "missing required table");
    Reader a(*auth, "provisioning.authentication");
    auto method = EDGE_TRY(a.string("method"));
    if (method == "sas") {
      p.method = AuthMethod::Sas;
      p.device_id_pk = EDGE_TRY(required_id(a, "device_id_pk"));
    } else if (method == "x509") {
      p.method = AuthMethod::X509;
      p.identity_cert = EDGE_TRY(required_id(a, "identity_cert"));
      p.identity_pk = EDGE_TRY(required_id(a, "identity_pk"));
      p.csr_subject = EDGE_TRY(opt_subject(a, "csr_subject"));
      p.identity_auto_renew = EDGE_TRY(opt_auto_renew(a, "identity_auto_renew"));
    } else {
      return a.error_at("method", "unknown method \"" + method + "\" (expected sas or x509)");
    }
  } else if (source == "dps") {
    p.source = Source::Dps;
    p.global_endpoint = EDGE_TRY(r.string("global_endpoint"));
    if (!p.global_endpoint.starts_with("https://"))
      return r.error_at("global_endpoint", "expected an https:// URL");
    p.scope_id = EDGE_TRY(required_id(r, "scope_id"));
    if (const auto* payload = EDGE_TRY(r.opt_table("payload"))) {
      Reader pr(*payload, "provisioning.payload");
      auto uri = EDGE_TRY(pr.string("uri"));
      if (!uri.starts_with("file://")) return pr.error_at("uri", "expected a file:// URI");
      p.payload_uri = uri;
    }
    const auto* att = EDGE_TRY(r.opt_table("attestation"));
    if (!att) return r.error_at("attestation", "missing required table");
    Reader a(*att, "provisioning.attestation");
    auto method = EDGE_TRY(a.string("method"));
    if (method == "symmetric_key") {
      p.method = AuthMethod::SymmetricKey;
      p.registration_id = EDGE_TRY(required_id(a, "registration_id"));
      p.symmetric_key = EDGE_TRY(required_id(a, "symmetric_key"));
    } else if (method == "x509") {
      p.method = AuthMethod::X509;
      p.identity_cert = EDGE_TRY(required_id(a, "identity_cert"));
      p.identity_pk = EDGE_TRY(required_id(a, "identity_pk"));
      if (auto subject = EDGE_TRY(opt_subject(a, "registration_id"))) {
        p.registration_subject = subject;
        p.registration_id = subject->common_name();
      }
      p.identity_auto_renew = EDGE_TRY(opt_auto_renew(a, "identity_auto_renew"));
    } else if (method == "tpm") {
      p.method = AuthMethod::Tpm;
      p.registration_id = EDGE_TRY(required_id(a, "registration_id"));
    } else {
      return a.error_at("method",
                        "unknown method \"" + method + "\" (expected symmetric_key, x509 or tpm)");
    }
    if (p.local_gateway_hostname)
      return r.error_at("local_gateway_hostname",
                        "DPS provisioning is not supported in nested mode");
  } else if (source == "none") {
    p.source = Source::None;
  } else {
    return r.error_at(
        "source", "unknown provisioning source \"" + source + "\" (expected manual, dps or none)");
  }
  return p;
}

Result<Config> decode(const toml::table& root) {
  Config c;
  Reader top(root);
  static const std::set<std::string> known = {"hostname",
                                              "homedir",
                                              "prefer_module_identity_cache",
                                              "max_requests",
                                              "cloud_timeout_sec",
                                              "cloud_retries",
                                              "provisioning",
                                              "principal",
                                              "localid",
                                              "endpoints",
                                              "auto_reprovisioning_mode"};
  for (const auto& [key, node] : root)
    if (!known.contains(std::string(key.str())))
      c.warnings.push_back(
          "ignoring unknown config key \"" + std::string(key.str()) + "\"" +
          (edge::config::where(node).empty() ? "" : " at " + edge::config::where(node)));

  c.hostname = EDGE_TRY(top.string("hostname"));
  EDGE_TRY_VOID(check_hostname(top, "hostname", c.hostname));
  c.homedir = EDGE_TRY(top.string("homedir"));
  if (c.homedir.empty() || c.homedir.front() != '/')
    return top.error_at("homedir", "expected an absolute path");
  if (auto v = EDGE_TRY(top.opt_bool("prefer_module_identity_cache")))
    c.prefer_module_identity_cache = *v;
  if (auto v = EDGE_TRY(top.opt_int("max_requests", 1, 10000)))
    c.max_requests = static_cast<size_t>(*v);
  if (auto v = EDGE_TRY(top.opt_int("cloud_timeout_sec", 70, 3600)))
    c.cloud_timeout_sec = static_cast<unsigned>(*v);
  if (auto v = EDGE_TRY(top.opt_int("cloud_retries", 0, 100)))
    c.cloud_retries = static_cast<unsigned>(*v);
  if (auto v = EDGE_TRY(top.opt_string("auto_reprovisioning_mode"))) {
    if (*v == "Dynamic")
      c.reprovision_mode = ReprovisionMode::Dynamic;
    else if (*v == "AlwaysOnStartup")
      c.reprovision_mode = ReprovisionMode::AlwaysOnStartup;
    else if (*v == "OnErrorOnly")
      c.reprovision_mode = ReprovisionMode::OnErrorOnly;
    else
      return top.error_at("auto_reprovisioning_mode",
                          "expected Dynamic, AlwaysOnStartup or OnErrorOnly");
  }

  if (const auto* prov = EDGE_TRY(top.opt_table("provisioning")))
    c.provisioning = EDGE_TRY(decode_provisioning(*prov));
  else
    return top.error_at("provisioning", "missing required table");

  if (const auto* localid = EDGE_TRY(top.opt_table("localid"))) {
    Reader r(*localid, "localid");
    c.localid_domain = EDGE_TRY(r.string("domain"));
  }

  std::set<std::string> names;
  if (const auto* principals = EDGE_TRY(top.opt_array("principal"))) {
    if (principals->size() > 1000) return top.error_at("principal", "more than 1000 principals");
    for (const auto& item : *principals) {
      if (!item.is_table()) return top.error_at("principal", "expected an array of tables");
      Reader r(*item.as_table(), "principal");
      Principal p;
      auto uid = EDGE_TRY(r.opt_int("uid", 0, 0xFFFFFFFE));
      if (!uid) return r.error_at("uid", "missing required key");
      p.uid = static_cast<uid_t>(*uid);
      p.name = EDGE_TRY(required_id(r, "name"));
      if (auto types = EDGE_TRY(r.opt_string_array("idtype"))) {
        std::vector<IdType> list;
        for (const auto& t : *types) {
          if (t == "device")
            list.push_back(IdType::Device);
          else if (t == "module")
            list.push_back(IdType::Module);
          else if (t == "local")
            list.push_back(IdType::Local);
          else
            return r.error_at(
                "idtype", "unknown identity type \"" + t + "\" (expected device, module or local)");
        }
        p.idtype = std::move(list);
      }
      if (const auto* lo = EDGE_TRY(r.opt_table("localid"))) {
        Reader l(*lo, "principal.localid");
        LocalIdOpts opts;
        opts.type = EDGE_TRY(l.string("type"));
        if (opts.type != "x509") return l.error_at("type", "expected \"x509\"");
        if (auto a = EDGE_TRY(l.opt_string("attributes"))) opts.attributes = *a;
        if (opts.attributes != "client" && opts.attributes != "server")
          return l.error_at("attributes", "expected \"client\" or \"server\"");
        p.localid = opts;
      }
      // Upstream's checks (aziot-identityd-config check.rs).
      if (!names.insert(p.name).second)
        return r.error_at("name", "duplicate principal name \"" + p.name + "\"");
      if (p.has(IdType::Local) && !c.localid_domain)
        return r.error_at("idtype", "principal \"" + p.name +
                                        "\" has idtype local but [localid] is not configured");
      if (p.localid && !p.has(IdType::Local))
        return r.error_at("localid",
                          "principal \"" + p.name + "\" has localid options without idtype local");
      if ((p.has(IdType::Module) || p.has(IdType::Device)) && c.provisioning.source == Source::None)
        return r.error_at(
            "idtype",
            "principal \"" + p.name + "\" has a hub identity type but provisioning source is none");
      c.principals.push_back(std::move(p));
    }
  }

  if (const auto* endpoints = EDGE_TRY(top.opt_table("endpoints"))) {
    Reader r(*endpoints, "endpoints");
    if (auto v = EDGE_TRY(r.opt_string("aziot_identityd"))) c.endpoints.identityd = *v;
    if (auto v = EDGE_TRY(r.opt_string("aziot_keyd"))) c.endpoints.keyd = *v;
    if (auto v = EDGE_TRY(r.opt_string("aziot_certd"))) c.endpoints.certd = *v;
    if (auto v = EDGE_TRY(r.opt_string("aziot_tpmd"))) c.endpoints.tpmd = *v;
  }
  return c;
}
}  // namespace

std::string Subject::common_name() const {
  for (const auto& [k, v] : fields)
    if (k == "CN") return v;
  return {};
}

bool Principal::has(IdType t) const {
  return idtype && std::find(idtype->begin(), idtype->end(), t) != idtype->end();
}

const char* to_string(Source s) {
  switch (s) {
    case Source::Manual:
      return "manual";
    case Source::Dps:
      return "dps";
    case Source::None:
      return "none";
  }
  return "none";
}
const char* to_string(AuthMethod m) {
  switch (m) {
    case AuthMethod::Sas:
      return "sas";
    case AuthMethod::X509:
      return "x509";
    case AuthMethod::SymmetricKey:
      return "symmetric_key";
    case AuthMethod::Tpm:
      return "tpm";
  }
  return "sas";
}

std::string provisioning_fingerprint(const Provisioning& p) {
  edge::http::Json j = {{"source", to_string(p.source)},
                        {"method", to_string(p.method)},
                        {"gateway", p.local_gateway_hostname.value_or("")},
                        {"hub", p.iothub_hostname},
                        {"device", p.device_id},
                        {"device_id_pk", p.device_id_pk},
                        {"cert", p.identity_cert},
                        {"pk", p.identity_pk},
                        {"endpoint", p.global_endpoint},
                        {"scope", p.scope_id},
                        {"registration", p.registration_id.value_or("")},
                        {"symmetric_key", p.symmetric_key},
                        {"payload", p.payload_uri.value_or("")}};
  return edge::crypto::hex(edge::crypto::sha256(j.dump()));
}

Result<Config> parse_config(const std::string& toml_text, const std::string& name) {
  auto table = EDGE_TRY(edge::config::parse(toml_text, name));
  return decode(table);
}

edge::config::Paths config_paths() {
  return edge::config::paths_from_env("AZIOT_IDENTITYD_CONFIG", "AZIOT_IDENTITYD_CONFIG_DIR",
                                      "/etc/aziot/identityd/config.toml",
                                      "/etc/aziot/identityd/config.d");
}

Result<Config> parse_config_table(const toml::table& table) { return decode(table); }

Result<Config> load_config() {
  auto table = EDGE_TRY(edge::config::load(config_paths()));
  return decode(table);
}

}  // namespace identityd
