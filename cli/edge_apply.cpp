// What `iotedge config apply` adds to the identity-service configs: the Edge CA, aziot-edged's
// principals, the trust bundle, content trust, and aziot-edged's own config.
#include <cstdio>
#include <map>

#include "cli/apply.h"
#include "cli/apply_model.h"
#include "cli/uris.h"
#include "common/config.h"
#include "common/fs.h"

namespace edge::cli {
namespace {

using namespace detail;

// Quickstart and self-signed Edge CA: certd self-signs the CA and its renewal twin.
void set_quickstart_ca(Model& m, uid_t aziotcs, std::optional<int64_t> expiry_days,
                       const std::optional<CertSubject>& subject) {
  CertdIssuance issuance;
  issuance.method = IssuanceMethod::SelfSigned;
  issuance.expiry_days = expiry_days;
  issuance.subject = subject;
  m.certs[kEdgeCa] = issuance;
  std::string temp = std::string(kEdgeCa) + "-temp";
  m.certs[temp] = issuance;
  m.keyd_principals.push_back(Principal{aziotcs, {kEdgeCa, temp}});
}

std::string humantime(int64_t secs) {
  if (secs == 0) return "0s";
  std::vector<std::string> parts;
  auto take = [&](int64_t unit, const std::string& one, const std::string& many) {
    int64_t n = secs / unit;
    secs %= unit;
    if (n) parts.push_back(std::to_string(n) + (n == 1 ? one : many));
  };
  take(31557600, "year", "years");
  take(2630016, "month", "months");
  take(86400, "day", "days");
  take(3600, "h", "h");
  take(60, "m", "m");
  take(1, "s", "s");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

Result<Table> read_additional_info(const std::string& url, const std::string& root) {
  auto path = file_url_path(url);
  if (!path) return invalid("additional_info is an invalid URI");
  auto text = fs::read_file(root + *path, config::kMaxConfigFileSize);
  if (!text)
    return invalid("failed to read additional_info from " + *path + ": " + text.error().message);
  auto parsed = config::parse(*text, *path);
  if (!parsed) return invalid("invalid toml at " + *path + ": " + parsed.error().message);
  Table out;
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : *parsed) {
    if (!v.is_string())
      return invalid("invalid toml at " + *path + ": additional_info." + std::string(k.str()) +
                     " must be a string");
    sorted[std::string(k.str())] = v.as_string()->get();
  }
  for (const auto& [k, v] : sorted) out.set(k, v);
  return out;
}

}  // namespace

Result<ServiceConfigs> apply_edge(const EdgeConfig& c, const std::string& hostname,
                                  const PrincipalUids& uids, const std::string& root) {
  Model m = EDGE_TRY(build_identity_model(c.aziot, hostname, uids));
  ServiceConfigs out;

  Table edged_principal;
  edged_principal.set("uid", static_cast<int64_t>(uids.iotedge));
  edged_principal.set("name", "aziot-edge");
  // Upstream's identityd settings put [[principal]] before [localid].
  std::optional<Value> localid;
  auto& entries = m.identityd.entries;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->key == "localid") {
      localid = it->value;
      entries.erase(it);
      break;
    }
  }
  m.identityd.set("principal", Array{Value(edged_principal)});
  if (localid) m.identityd.set("localid", *localid);

  std::vector<std::string> iotedge_certs = {kEdgeCa, "aziot-edged/module/*"};
  std::vector<std::string> iotedge_keys = {kEdgeCa, "iotedge_master_encryption_id"};

  if (c.imported_master_encryption_key) {
    const std::string& path = *c.imported_master_encryption_key;
    auto bytes = fs::read_file(root + path);
    if (!bytes)
      return invalid("could not import master encryption key file " + path + ": " +
                     bytes.error().message);
    m.preloaded_keys["iotedge_master_encryption_id"] = file_url_from_path(kImportedMasterKeyPath);
    out.master_encryption_key = *bytes;
  }

  std::vector<std::string> trust_bundle = {kEdgeCa};
  EdgeCa ca = c.edge_ca.value_or(EdgeCa{});
  Table edge_ca;  // aziot-edged's [edge_ca]
  std::optional<AutoRenew> renew;
  const std::string temp = std::string(kEdgeCa) + "-temp";
  switch (ca.kind) {
    case EdgeCa::Kind::Issued: {
      const IssuanceOptions& o = ca.issued;
      renew = o.auto_renew.value_or(AutoRenew{});
      std::optional<CertSubject> edged_subject;
      if (o.method == IssuanceMethod::Est) {
        Principal aziotcs{uids.aziotcs, {kEdgeCa}};
        std::map<std::string, std::string> keys;
        auto auth = set_est_auth(o.auth, m, keys, aziotcs, kEdgeCa);
        m.keyd_principals.push_back(aziotcs);
        for (const auto& [k, v] : keys) m.preloaded_keys[k] = v;
        // certd cannot change an EST CSR, so expiry and subject only matter to edged.
        CertdIssuance issuance;
        issuance.method = IssuanceMethod::Est;
        issuance.url = o.url;
        issuance.auth = auth;
        m.certs[kEdgeCa] = issuance;
        m.certs[temp] = issuance;
        edged_subject = o.subject;
      } else if (o.method == IssuanceMethod::LocalCa) {
        CertdIssuance issuance;
        issuance.method = IssuanceMethod::LocalCa;
        issuance.expiry_days = o.expiry_days;
        issuance.subject = o.subject;
        m.certs[kEdgeCa] = issuance;
        m.certs[temp] = issuance;
        m.keyd_principals.push_back(Principal{uids.aziotcs, {kEdgeCa}});
      } else {
        set_quickstart_ca(m, uids.aziotcs, o.expiry_days, o.subject);
      }
      edge_ca.set("cert", kEdgeCa);
      edge_ca.set("key", kEdgeCa);
      put_subject(edge_ca, edged_subject);
      break;
    }
    case EdgeCa::Kind::Preloaded:
      m.preloaded_keys[kEdgeCa] = ca.pk;
      m.preloaded_certs[kEdgeCa] = uri_cert(ca.cert);
      edge_ca.set("cert", kEdgeCa);
      edge_ca.set("key", kEdgeCa);
      break;
    case EdgeCa::Kind::Quickstart:
      set_quickstart_ca(m, uids.aziotcs, ca.expiry_days, ca.subject);
      renew = ca.auto_renew;
      break;
  }
  if (renew) {
    edge_ca.set("auto_renew", auto_renew_value(*renew));
    // aziot-edged renews the CA through temporary credentials.
    iotedge_certs.push_back(temp);
    if (renew->rotate_key) iotedge_keys.push_back(temp);
  }
  m.certd_principals.push_back(Principal{uids.iotedge, iotedge_certs});
  m.keyd_principals.push_back(Principal{uids.iotedge, iotedge_keys});

  if (c.trust_bundle_cert) {
    m.preloaded_certs["trust-bundle-user"] = uri_cert(*c.trust_bundle_cert);
    trust_bundle.push_back("trust-bundle-user");
  }
  m.preloaded_certs[kEdgeTrustBundle] = PreloadedCert{std::nullopt, trust_bundle};

  std::optional<Table> additional_info;
  if (c.additional_info) additional_info = EDGE_TRY(read_additional_info(*c.additional_info, root));

  Table moby;
  moby.set("uri", c.moby_uri);
  moby.set("network", c.moby_network);
  if (c.has_content_trust) {
    Table ct;
    if (c.content_trust_ca_certs) {
      Table ids;
      for (const auto& [host, uri] : *c.content_trust_ca_certs) {
        std::string cert_id = "content-trust-" + host;
        m.preloaded_certs[cert_id] = uri_cert(uri);
        ids.set(host, cert_id);
      }
      ct.set("ca_certs", ids);
    }
    moby.set("content_trust", ct);
  }

  Table e;
  e.set("hostname", m.identityd.find("hostname")->string());
  e.set("trust_bundle_cert", kEdgeTrustBundle);
  e.set("auto_reprovisioning_mode", c.auto_reprovisioning_mode);
  e.set("homedir", "/var/lib/aziot/edged");
  e.set("allow_elevated_docker_permissions", c.allow_elevated_docker_permissions.value_or(true));
  if (c.iotedge_max_management != 50 || c.iotedge_max_workload != 10) {
    Table t;
    t.set("management", c.iotedge_max_management);
    t.set("workload", c.iotedge_max_workload);
    e.set("iotedge_max_requests", t);
  }
  if (!edge_ca.empty()) e.set("edge_ca", edge_ca);
  e.set("agent", c.agent);
  Table connect, listen, watchdog;
  connect.set("workload_uri", c.connect_workload);
  connect.set("management_uri", c.connect_management);
  listen.set("workload_uri", c.listen_workload);
  listen.set("management_uri", c.listen_management);
  e.set("connect", connect);
  e.set("listen", listen);
  if (c.watchdog_max_retries) {
    watchdog.set("max_retries", *c.watchdog_max_retries);
  } else {
    watchdog.set("max_retries", "infinite");
  }
  e.set("watchdog", watchdog);
  if (additional_info && !additional_info->empty()) e.set("additional_info", *additional_info);
  if (!c.image_garbage_collection.is_default()) {
    const ImagePrune& gc = c.image_garbage_collection;
    Table t;
    t.set("cleanup_recurrence", humantime(gc.cleanup_recurrence_secs));
    t.set("image_age_cleanup_threshold", humantime(gc.image_age_cleanup_threshold_secs));
    char hhmm[8];
    std::snprintf(hhmm, sizeof hhmm, "%02d:%02d", static_cast<int>(gc.cleanup_time_minutes / 60),
                  static_cast<int>(gc.cleanup_time_minutes % 60));
    t.set("cleanup_time", std::string(hhmm));
    t.set("enabled", gc.enabled);
    e.set("image_garbage_collection", t);
  }
  e.set("moby_runtime", moby);

  out.keyd = keyd_table(m);
  out.certd = certd_table(m);
  out.identityd = m.identityd;
  out.tpmd = m.tpmd;
  out.edged = e;
  out.device_id_key = m.device_id_key;
  return out;
}

}  // namespace edge::cli
