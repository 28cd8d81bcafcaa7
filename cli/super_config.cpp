#include "cli/super_config.h"

#include "cli/config_parser.h"

namespace edge::cli {
namespace detail {

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

}  // namespace detail

namespace {

using config::Reader;
using detail::Parser;

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
