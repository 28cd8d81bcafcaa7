#include "cli/apply.h"

#include <cctype>
#include <map>

#include "cli/apply_model.h"
#include "cli/uris.h"

namespace edge::cli {
namespace detail {

PreloadedCert uri_cert(const std::string& uri) { return PreloadedCert{uri, {}}; }

// Per-certificate EST credentials: preloads them under ids derived from the cert name and
// grants certd's key access (upstream's set_est_auth).
std::optional<CertdEstAuth> set_est_auth(const std::optional<EstAuth>& auth, Model& m,
                                         std::map<std::string, std::string>& preloaded_keys,
                                         Principal& aziotcs, const std::string& cert_name) {
  if (!auth) return std::nullopt;
  CertdEstAuth out;
  out.basic = auth->basic;
  if (auth->x509) {
    std::string identity_id = std::string(kEstId) + "-" + cert_name;
    if (auth->x509->bootstrap) {
      std::string bootstrap_id = std::string(kEstBootstrapId) + "-" + cert_name;
      m.preloaded_certs[bootstrap_id] = uri_cert(auth->x509->cert);
      preloaded_keys[bootstrap_id] = auth->x509->pk;
      aziotcs.ids.push_back(bootstrap_id);
      // certd rotates the EST identity key through a temporary key.
      aziotcs.ids.push_back(identity_id + "-temp");
      out.bootstrap = std::pair{bootstrap_id, bootstrap_id};
    } else {
      m.preloaded_certs[identity_id] = uri_cert(auth->x509->cert);
      preloaded_keys[identity_id] = auth->x509->pk;
    }
    aziotcs.ids.push_back(identity_id);
    out.identity = std::pair{identity_id, identity_id};
  }
  return out;
}

CertdIssuance into_certd(const IssuanceOptions& o, const std::optional<CertdEstAuth>& auth) {
  CertdIssuance c;
  c.method = o.method;
  if (o.method == IssuanceMethod::Est) {
    c.url = o.url;
    c.auth = auth;
  }
  c.expiry_days = o.expiry_days;
  c.subject = o.subject;
  return c;
}

// CSR subject identityd asks for: the given CN plus the other DN fields, keys upper-cased.
Value csr_subject(const std::string& cn, const std::map<std::string, std::string>& fields) {
  Table t;
  t.set("CN", cn);
  std::map<std::string, std::string> rest;
  for (const auto& [k, v] : fields) {
    std::string upper = k;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (upper != "CN") rest[upper] = v;
  }
  for (const auto& [k, v] : rest) t.set(k, v);
  return t;
}

void put_subject(Table& t, const std::optional<CertSubject>& s) {
  if (!s) return;
  if (s->common_name) {
    t.set("common_name", *s->common_name);
  } else {
    Table sub;
    for (const auto& [k, v] : s->subject) sub.set(k, v);
    t.set("subject", sub);
  }
}

void put_est_auth(Table& t, const std::optional<CertdEstAuth>& a) {
  if (!a) return;
  if (a->basic) {
    t.set("username", a->basic->username);
    t.set("password", a->basic->password);
  }
  if (a->identity) {
    t.set("identity_cert", a->identity->first);
    t.set("identity_pk", a->identity->second);
    if (a->bootstrap) {
      t.set("bootstrap_identity_cert", a->bootstrap->first);
      t.set("bootstrap_identity_pk", a->bootstrap->second);
    }
  }
}

Table issuance_table(const CertdIssuance& c) {
  Table t;
  t.set("method", c.method == IssuanceMethod::Est       ? "est"
                  : c.method == IssuanceMethod::LocalCa ? "local_ca"
                                                        : "self_signed");
  if (c.url) t.set("url", *c.url);
  put_est_auth(t, c.auth);
  if (c.expiry_days) t.set("expiry_days", *c.expiry_days);
  put_subject(t, c.subject);
  return t;
}

Value principals(const std::vector<Principal>& list, const char* field) {
  Array out;
  for (const auto& p : list) {
    Table t;
    t.set("uid", static_cast<int64_t>(p.uid));
    t.set(field, string_array(p.ids));
    out.emplace_back(t);
  }
  return out;
}

Table string_map(const std::map<std::string, std::string>& m) {
  Table t;
  for (const auto& [k, v] : m) t.set(k, v);
  return t;
}

Table keyd_table(const Model& m) {
  Table t;
  if (m.max_requests.keyd != kDefaultMaxRequests) t.set("max_requests", m.max_requests.keyd);
  t.set("aziot_keys", string_map(m.aziot_keys));
  t.set("preloaded_keys", string_map(m.preloaded_keys));
  if (!m.keyd_principals.empty()) t.set("principal", principals(m.keyd_principals, "keys"));
  return t;
}

Table certd_table(const Model& m) {
  Table t;
  t.set("homedir_path", "/var/lib/aziot/certd");
  if (m.max_requests.certd != kDefaultMaxRequests) t.set("max_requests", m.max_requests.certd);
  Table issuance;
  if (m.est) {
    Table est;
    if (!m.est->trusted_certs.empty()) est.set("trusted_certs", string_array(m.est->trusted_certs));
    put_est_auth(est, m.est->auth);
    if (!m.est->identity_auto_renew.is_default())
      est.set("identity_auto_renew", auto_renew_value(m.est->identity_auto_renew));
    if (!m.est->urls.empty()) est.set("urls", string_map(m.est->urls));
    issuance.set("est", est);
  }
  if (m.local_ca) {
    Table ca;
    ca.set("cert", m.local_ca->first);
    ca.set("pk", m.local_ca->second);
    issuance.set("local_ca", ca);
  }
  for (const auto& [id, c] : m.certs) issuance.set(id, issuance_table(c));
  t.set("cert_issuance", issuance);
  Table preloaded;
  for (const auto& [id, c] : m.preloaded_certs) {
    if (c.uri) {
      preloaded.set(id, *c.uri);
    } else {
      preloaded.set(id, string_array(c.ids));
    }
  }
  t.set("preloaded_certs", preloaded);
  if (!m.certd_principals.empty()) t.set("principal", principals(m.certd_principals, "certs"));
  return t;
}

Table tpmd_table(const AziotConfig& c) {
  Table t;
  if (c.aziot_max_requests.tpmd != kDefaultMaxRequests)
    t.set("max_requests", c.aziot_max_requests.tpmd);
  if (c.tpm.tcti && *c.tpm.tcti != "device") t.set("tcti", *c.tpm.tcti);
  if (c.tpm.auth_key_index && *c.tpm.auth_key_index != 0x100)
    t.set("auth_key_index", *c.tpm.auth_key_index);
  Table auth;
  if (c.tpm.endorsement && !c.tpm.endorsement->empty()) auth.set("endorsement", *c.tpm.endorsement);
  if (c.tpm.owner && !c.tpm.owner->empty()) auth.set("owner", *c.tpm.owner);
  if (!auth.empty()) t.set("hierarchy_authorization", auth);
  return t;
}

Result<Model> build_identity_model(const AziotConfig& c, const std::string& machine_hostname,
                                   const PrincipalUids& uids) {
  Model m;
  m.max_requests = c.aziot_max_requests;
  m.aziot_keys = c.aziot_keys;
  m.preloaded_keys = c.preloaded_keys;
  m.preloaded_certs = c.preloaded_certs;

  Principal aziotid_keys{uids.aziotid, {"aziot_identityd_master_id"}};
  Principal aziotid_certs{uids.aziotid, {}};
  Principal aziotcs_keys{uids.aziotcs, {}};
  std::optional<SymmetricKey> device_id_pk;

  const Provisioning& p = c.provisioning;
  Table prov;
  if (c.parent_hostname) prov.set("local_gateway_hostname", *c.parent_hostname);

  // An issued X.509 identity: certd issues "device-id" (and "device-id-temp" to renew).
  auto issued_identity = [&](const IssuanceOptions& o) {
    std::optional<CertdEstAuth> auth;
    if (o.method == IssuanceMethod::Est)
      auth = set_est_auth(o.auth, m, m.preloaded_keys, aziotcs_keys, kDeviceId);
    aziotid_keys.ids.push_back(kDeviceId);
    return auth;
  };
  auto preloaded_identity = [&](const X509Identity& id) {
    m.preloaded_keys[kDeviceId] = id.pk;
    aziotid_keys.ids.push_back(kDeviceId);
    m.preloaded_certs[kDeviceId] = uri_cert(id.cert);
  };

  switch (p.source) {
    case Provisioning::Source::Manual: {
      prov.set("source", "manual");
      Table auth;
      if (p.connection_string) {
        auto cs = EDGE_TRY(parse_connection_string(*p.connection_string));
        device_id_pk = SymmetricKey{cs.key_bytes, std::nullopt};
        aziotid_keys.ids.push_back(kDeviceId);
        prov.set("iothub_hostname", cs.hostname);
        prov.set("device_id", cs.device_id);
        auth.set("method", "sas");
        auth.set("device_id_pk", kDeviceId);
      } else {
        prov.set("iothub_hostname", p.iothub_hostname);
        prov.set("device_id", p.device_id);
        if (p.manual_auth == Provisioning::ManualAuth::Sas) {
          device_id_pk = p.device_id_pk;
          aziotid_keys.ids.push_back(kDeviceId);
          auth.set("method", "sas");
          auth.set("device_id_pk", kDeviceId);
        } else {
          std::optional<Value> csr;
          if (p.identity.issued) {
            auto est_auth = issued_identity(*p.identity.issued);
            CertdIssuance opts = into_certd(*p.identity.issued, est_auth);
            if (opts.subject && !opts.subject->common_name)
              csr = csr_subject(p.device_id, opts.subject->subject);
            m.certs[kDeviceId] = opts;
            aziotid_certs.ids.push_back(kDeviceId);
          } else {
            preloaded_identity(p.identity);
          }
          auth.set("method", "x509");
          auth.set("identity_cert", kDeviceId);
          auth.set("identity_pk", kDeviceId);
          if (csr) auth.set("csr_subject", *csr);
        }
      }
      prov.set("authentication", auth);
      break;
    }
    case Provisioning::Source::Dps: {
      prov.set("source", "dps");
      prov.set("global_endpoint", p.global_endpoint);
      prov.set("scope_id", p.id_scope);
      Table att;
      if (p.attestation == Provisioning::Attestation::SymmetricKey) {
        device_id_pk = p.symmetric_key;
        aziotid_keys.ids.push_back(kDeviceId);
        att.set("method", "symmetric_key");
        att.set("registration_id", *p.registration_id);
        att.set("symmetric_key", kDeviceId);
      } else if (p.attestation == Provisioning::Attestation::X509) {
        std::optional<Value> registration;
        std::optional<AutoRenew> renew;
        if (p.identity.issued) {
          const IssuanceOptions& o = *p.identity.issued;
          renew = o.auto_renew;
          auto est_auth = issued_identity(o);
          if (renew) {
            std::string temp = std::string(kDeviceId) + "-temp";
            m.certs[temp] = into_certd(o, est_auth);
            aziotid_certs.ids.push_back(temp);
            if (renew->rotate_key) aziotid_keys.ids.push_back(temp);
          }
          CertdIssuance opts = into_certd(o, est_auth);
          if (p.registration_id && opts.subject) {
            if (opts.subject->common_name) {
              registration = Value(*p.registration_id);
            } else {
              registration = csr_subject(*p.registration_id, opts.subject->subject);
            }
          }
          m.certs[kDeviceId] = opts;
          aziotid_certs.ids.push_back(kDeviceId);
        } else {
          preloaded_identity(p.identity);
          if (p.registration_id) registration = Value(*p.registration_id);
        }
        att.set("method", "x509");
        att.set("identity_cert", kDeviceId);
        att.set("identity_pk", kDeviceId);
        if (registration) att.set("registration_id", *registration);
        if (renew) att.set("identity_auto_renew", auto_renew_value(*renew));
      } else {
        att.set("method", "tpm");
        att.set("registration_id", *p.registration_id);
      }
      prov.set("attestation", att);
      if (p.payload_uri) {
        Table payload;
        payload.set("uri", *p.payload_uri);
        prov.set("payload", payload);
      }
      break;
    }
    case Provisioning::Source::None:
      prov.set("source", "none");
      break;
  }

  Table& id = m.identityd;
  id.set("hostname", c.hostname ? *c.hostname : machine_hostname);
  id.set("homedir", "/var/lib/aziot/identityd");
  id.set("prefer_module_identity_cache", c.prefer_module_identity_cache);
  if (c.aziot_max_requests.identityd != kDefaultMaxRequests)
    id.set("max_requests", c.aziot_max_requests.identityd);
  if (c.cloud_timeout_sec != 70) id.set("cloud_timeout_sec", c.cloud_timeout_sec);
  if (c.cloud_retries != 1) id.set("cloud_retries", c.cloud_retries);
  id.set("provisioning", prov);
  if (c.localid_domain) {
    Table l;
    l.set("domain", *c.localid_domain);
    id.set("localid", l);
  }

  if (device_id_pk) {
    if (device_id_pk->bytes) {
      m.preloaded_keys[kDeviceId] = file_url_from_path(kDeviceIdKeyPath);
      m.device_id_key = device_id_pk->bytes;
    } else {
      m.preloaded_keys[kDeviceId] = *device_id_pk->uri;
    }
  }
  m.aziot_keys["homedir_path"] = "/var/lib/aziot/keyd";

  if (c.est) {
    CertdEst est;
    if (c.est->auth) {
      CertdEstAuth auth;
      auth.basic = c.est->auth->basic;
      if (const auto& x = c.est->auth->x509) {
        if (x->bootstrap) {
          m.preloaded_certs[kEstBootstrapId] = uri_cert(x->cert);
          m.preloaded_keys[kEstBootstrapId] = x->pk;
          aziotcs_keys.ids.push_back(kEstBootstrapId);
          aziotcs_keys.ids.push_back(kEstId);
          if (c.est->identity_auto_renew.rotate_key)
            aziotcs_keys.ids.push_back(std::string(kEstId) + "-temp");
          auth.identity = std::pair{kEstId, kEstId};
          auth.bootstrap = std::pair{kEstBootstrapId, kEstBootstrapId};
        } else {
          m.preloaded_certs[kEstId] = uri_cert(x->cert);
          m.preloaded_keys[kEstId] = x->pk;
          aziotcs_keys.ids.push_back(kEstId);
          auth.identity = std::pair{kEstId, kEstId};
        }
      }
      est.auth = auth;
    }
    for (size_t i = 0; i < c.est->trusted_certs.size(); ++i) {
      std::string cert_id = "est-server-ca-" + std::to_string(i + 1);
      m.preloaded_certs[cert_id] = uri_cert(c.est->trusted_certs[i]);
      est.trusted_certs.push_back(cert_id);
    }
    est.identity_auto_renew = c.est->identity_auto_renew;
    est.urls = c.est->urls;
    m.est = est;
  }
  if (c.local_ca) {
    if (c.local_ca->issued) {
      aziotcs_keys.ids.push_back(kLocalCa);
      m.certs[kLocalCa] = into_certd(*c.local_ca->issued, std::nullopt);
    } else {
      m.preloaded_certs[kLocalCa] = uri_cert(c.local_ca->cert);
      m.preloaded_keys[kLocalCa] = c.local_ca->pk;
      aziotcs_keys.ids.push_back(kLocalCa);
    }
    m.local_ca = std::pair{kLocalCa, kLocalCa};
  }

  if (!aziotid_certs.ids.empty()) m.certd_principals.push_back(aziotid_certs);
  m.keyd_principals.push_back(aziotid_keys);
  if (!aziotcs_keys.ids.empty()) m.keyd_principals.push_back(aziotcs_keys);
  m.tpmd = tpmd_table(c);
  return m;
}

}  // namespace detail

using namespace detail;

Result<ServiceConfigs> apply_aziot(const AziotConfig& config, const std::string& hostname,
                                   const PrincipalUids& uids) {
  Model m = EDGE_TRY(build_identity_model(config, hostname, uids));
  ServiceConfigs out;
  out.keyd = keyd_table(m);
  out.certd = certd_table(m);
  out.identityd = m.identityd;
  out.tpmd = m.tpmd;
  out.device_id_key = m.device_id_key;
  return out;
}

}  // namespace edge::cli
