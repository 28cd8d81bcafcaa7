// Hub: who is calling: SAS tokens (devices, modules, service policies), X.509 certificates.
#include "common/crypto.h"
#include "emulator/hub.h"
#include "emulator/hub_internal.h"
#include "emulator/mqtt_connect.h"
#include "emulator/pki.h"
#include "emulator/sas.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

// ---- authentication ----

static edge::Error unauthorized(const std::string& why) {
  return hub_error(ErrorKind::Unauthorized, "IotHubUnauthorizedAccess", why);
}

edge::Status Hub::check_keys(const Json& entry, const std::string& resource,
                             const std::string& token) const {
  auto sas = parse_sas(token);
  if (!sas) return edge::fail(unauthorized(sas.error().message));
  const Json& identity = entry.contains("module") ? entry["module"] : entry["device"];
  if (identity.value("status", "enabled") == "disabled")
    return edge::fail(unauthorized("device is disabled"));
  const Json& auth = identity["authentication"];
  if (auth.value("type", "") != "sas")
    return edge::fail(unauthorized("identity does not use SAS authentication"));
  std::vector<std::string> keys;
  for (const char* which : {"primaryKey", "secondaryKey"})
    if (auth["symmetricKey"][which].is_string()) keys.push_back(auth["symmetricKey"][which]);
  auto ok = verify_sas(*sas, resource, keys, now_s());
  if (!ok) return edge::fail(unauthorized(ok.error().message));
  return {};
}

edge::Result<Caller> Hub::authenticate_rest(const std::string& authorization) const {
  auto sas = parse_sas(authorization);
  if (!sas) return edge::fail(unauthorized(sas.error().message));
  std::lock_guard lock(mu_);
  const std::string host = lower(config_.hostname);
  if (!sas->skn.empty()) {
    const Json& policies = state_["policies"];
    if (!policies.contains(sas->skn)) return edge::fail(unauthorized("unknown policy " + sas->skn));
    auto ok = verify_sas(*sas, host, {policies[sas->skn].get<std::string>()}, now_s());
    if (!ok) return edge::fail(unauthorized(ok.error().message));
    return Caller{Caller::Kind::Service, {}, {}};
  }
  // A device or module token: sr = {host}/devices/{dev}[/modules/{mod}]. Ids keep their case
  // in the registry, so match them against the decoded, lower-cased resource by lookup.
  const std::string prefix = host + "/devices/";
  if (!sas->resource.starts_with(prefix))
    return edge::fail(unauthorized("SAS audience is not this hub"));
  std::string rest = sas->resource.substr(prefix.size());
  std::string dev = rest, mod;
  if (size_t p = rest.find("/modules/"); p != std::string::npos) {
    dev = rest.substr(0, p);
    mod = rest.substr(p + 9);
  }
  for (auto it = state_["devices"].begin(); it != state_["devices"].end(); ++it) {
    if (lower(it.key()) != dev) continue;
    const Json* entry = &it.value();
    std::string mod_id;
    if (!mod.empty()) {
      entry = nullptr;
      for (auto m = it.value()["modules"].begin(); m != it.value()["modules"].end(); ++m)
        if (lower(m.key()) == mod) {
          entry = &m.value();
          mod_id = m.key();
        }
      if (!entry) break;
    }
    EDGE_TRY_VOID(check_keys(*entry, sas->resource, authorization));
    return Caller{mod.empty() ? Caller::Kind::Device : Caller::Kind::Module, it.key(), mod_id};
  }
  return edge::fail(unauthorized("unknown identity in SAS audience"));
}

std::string Hub::register_certificate_session(X509* leaf, STACK_OF(X509) * chain) {
  CertificateSession session;
  X509_up_ref(leaf);
  session.leaf.reset(leaf, X509_free);
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    X509_up_ref(c);
    session.chain.emplace_back(c, X509_free);
  }
  session.created = now_s();
  std::string id =
      edge::crypto::hex(edge::crypto::random_bytes(16).value_or(std::to_string(now_s())));
  std::lock_guard lock(mu_);
  std::erase_if(certificate_sessions_,
                [](const auto& kv) { return kv.second.created < now_s() - 60; });
  certificate_sessions_[id] = std::move(session);
  return id;
}

edge::Status Hub::authenticate_mqtt(const std::string& client_id, const std::string& username,
                                    std::string password, X509* cert) {
  // user name: {host}/{dev}[/{mod}]/?api-version=…  (the '?' is optional); client id: dev[/mod]
  size_t q = username.find("/?");
  if (q == std::string::npos) q = username.find("/api-version=");
  if (q == std::string::npos) return edge::fail(unauthorized("malformed user name"));
  std::string path = username.substr(0, q);
  size_t slash = path.find('/');
  if (slash == std::string::npos || path.substr(slash + 1) != client_id)
    return edge::fail(unauthorized("user name does not match the client id"));
  std::string dev = client_id, mod;
  if (size_t p = client_id.find('/'); p != std::string::npos) {
    dev = client_id.substr(0, p);
    mod = client_id.substr(p + 1);
  }
  std::lock_guard lock(mu_);
  std::vector<X509*> chain;
  CertificateSession session;
  if (password.starts_with(mqtt::kCertSessionPrefix)) {  // the TLS front vouches for a certificate
    auto it = certificate_sessions_.find(
        password.substr(std::string_view(mqtt::kCertSessionPrefix).size()));
    if (it == certificate_sessions_.end())
      return edge::fail(unauthorized("unknown certificate session"));
    session = std::move(it->second);
    certificate_sessions_.erase(it);
    cert = session.leaf.get();
    for (auto& c : session.chain) chain.push_back(c.get());
    password.clear();
  }
  const Json* entry = identity_entry(dev, mod);
  if (!entry) return edge::fail(unauthorized("unknown identity " + client_id));
  std::string resource =
      config_.hostname + "/devices/" + dev + (mod.empty() ? "" : "/modules/" + mod);
  if (!password.empty()) return check_keys(*entry, resource, password);
  const Json& identity = mod.empty() ? (*entry)["device"] : (*entry)["module"];
  if (!cert) return edge::fail(unauthorized("no SAS token and no client certificate"));
  return check_certificate_locked(identity, dev, cert, chain);
}

// X.509: a self-signed thumbprint, or a certificate chaining to a registered CA whose CN is the id.
edge::Status Hub::check_certificate_locked(const Json& identity, const std::string& dev, X509* cert,
                                           const std::vector<X509*>& chain) const {
  if (identity.value("status", "enabled") == "disabled")
    return edge::fail(unauthorized("device is disabled"));
  const Json& auth = identity["authentication"];
  std::string type = auth.value("type", "");
  if (type == "selfSigned") {
    std::string sha1 = pki::thumbprint_sha1(cert), sha256 = pki::thumbprint_sha256(cert);
    for (const char* which : {"primaryThumbprint", "secondaryThumbprint"}) {
      const Json& tp = auth["x509Thumbprint"][which];
      if (tp.is_string() && (tp == sha1 || tp == sha256)) return {};
    }
    return edge::fail(unauthorized("client certificate thumbprint does not match"));
  }
  if (type == "certificateAuthority") {
    if (pki::common_name(cert) != dev)
      return edge::fail(unauthorized("certificate CN does not match the device id"));
    const Json cas = state_.value("caCertificates", Json::object());
    for (auto it = cas.begin(); it != cas.end(); ++it)
      if (pki::chains_to(cert, chain, it.value().get<std::string>())) return {};
    return edge::fail(unauthorized("client certificate does not chain to a registered CA"));
  }
  return edge::fail(unauthorized("identity does not use X.509 authentication"));
}

edge::Result<Caller> Hub::authenticate_rest_certificate(const std::string& dev, X509* cert,
                                                        STACK_OF(X509) * chain) const {
  if (!cert) return edge::fail(unauthorized("no SAS token and no client certificate"));
  std::vector<X509*> intermediates;
  for (int i = 0; chain && i < sk_X509_num(chain); ++i)
    intermediates.push_back(sk_X509_value(chain, i));
  std::lock_guard lock(mu_);
  const Json* entry = device_entry(dev);
  if (!entry) return edge::fail(unauthorized("unknown device " + dev));
  EDGE_TRY_VOID(check_certificate_locked((*entry)["device"], dev, cert, intermediates));
  return Caller{Caller::Kind::Device, dev, {}};
}

edge::Result<Json> Hub::put_certificate_authority(const Json& body) {
  if (!body.is_object() || !body.value("name", Json()).is_string() ||
      !body.value("certificate", Json()).is_string())
    return edge::invalid("name and certificate (PEM) are required");
  Json out = {{"name", body["name"]},
              {"thumbprint", EDGE_TRY(pki::thumbprint_sha1_of_pem(body["certificate"]))}};
  std::lock_guard lock(mu_);
  state_["caCertificates"][body["name"].get<std::string>()] = body["certificate"];
  save();
  return out;
}

std::string Hub::service_connection_string() const {
  std::lock_guard lock(mu_);
  return "HostName=" + config_.hostname + ";SharedAccessKeyName=iothubowner;SharedAccessKey=" +
         state_["policies"]["iothubowner"].get<std::string>();
}

std::string Hub::connection_string(const std::string& dev, const std::string& mod) const {
  std::lock_guard lock(mu_);
  const Json* e = identity_entry(dev, mod);
  if (!e) return {};
  const Json& id = mod.empty() ? (*e)["device"] : (*e)["module"];
  const Json& key = id["authentication"]["symmetricKey"]["primaryKey"];
  std::string cs =
      "HostName=" + config_.hostname + ";DeviceId=" + dev + (mod.empty() ? "" : ";ModuleId=" + mod);
  if (key.is_string()) return cs + ";SharedAccessKey=" + key.get<std::string>();
  return cs + ";x509=true";
}

}  // namespace emulator
