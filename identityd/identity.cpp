#include "identityd/identity.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "common/crypto.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/uri.h"
#include "identityd/keyd_key.h"

namespace identityd {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;
using edge::http::Json;

namespace {
std::string socket_of(const std::string& endpoint) {
  auto e = edge::uri::parse_endpoint(endpoint);
  return e ? e->value : endpoint;
}

// Errors from keyd, certd, DPS and the hub are 404 to API callers, as upstream maps its
// KeyClient / HubClient / DPSClient errors; invalid parameters and auth keep their codes.
edge::Error client_error(const edge::Error& e) {
  if (e.kind == ErrorKind::InvalidParameter || e.kind == ErrorKind::Unauthorized)
    return edge::Error{ErrorKind::NotFound, e.message};
  if (e.kind == ErrorKind::Internal || e.kind == ErrorKind::Unavailable ||
      e.kind == ErrorKind::Timeout || e.kind == ErrorKind::PayloadTooLarge)
    return edge::Error{ErrorKind::NotFound, e.message};
  return e;
}

Status check_module_id(const std::string& id) {
  std::string trimmed = id;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back())))
    trimmed.pop_back();
  if (trimmed.empty())
    return invalid(
        "parameter \"module_id\" has an invalid value\ncaused by: module name cannot be empty");
  if (id.size() > kMaxModuleId)
    return invalid(
        "parameter \"module_id\" has an invalid value\ncaused by: longer than 128 characters");
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f)
      return invalid("parameter \"module_id\" has an invalid value\ncaused by: control character");
  return {};
}

std::string rfc3339(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

IdentityManager::IdentityManager(Config config)
    : config_(std::move(config)),
      keys_(socket_of(config_.endpoints.keyd)),
      certs_(socket_of(config_.endpoints.certd)),
      tpm_(socket_of(config_.endpoints.tpmd)),
      snapshot_(std::make_shared<const Config>(config_)) {}

std::shared_ptr<const Config> IdentityManager::config() const {
  std::lock_guard lock(snapshot_mutex_);
  return snapshot_;
}

Status IdentityManager::update_config(Config next) {
  std::lock_guard lock(mutex_);
  bool reprovision =
      provisioning_fingerprint(next.provisioning) != provisioning_fingerprint(config_.provisioning);
  next.endpoints = config_.endpoints;  // these need a restart, as upstream
  next.homedir = config_.homedir;
  next.max_requests = config_.max_requests;
  config_ = std::move(next);
  {
    std::lock_guard snap(snapshot_mutex_);
    snapshot_ = std::make_shared<const Config>(config_);
  }
  edge::log::info("Configuration reloaded");
  if (reprovision) {
    EDGE_TRY_VOID(provision(true, true));
    load_module_backup();
  }
  auto r = reconcile_locked();
  if (!r)
    edge::log::warn("Failed to reconcile module identities after the reload: " + r.error().message);
  return {};
}

CloudOptions IdentityManager::cloud_options() {
  CloudOptions o;
  o.timeout = std::chrono::seconds(config_.cloud_timeout_sec);
  o.retries = config_.cloud_retries;
  o.extra_roots_pem = trust_bundle_;
  if (const char* t =
          std::getenv("AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS")) {  // tests only: faster failures
    try {
      o.timeout = std::chrono::milliseconds(std::stol(t));
      o.retry_delay = std::chrono::milliseconds(100);
    } catch (...) {
    }
  }
  return o;
}

namespace {
struct TlsIdentity {
  std::vector<edge::crypto::X509Ptr> certs;
  edge::crypto::PKey key;
};
}  // namespace

// The device identity certificate is missing from certd: create the key pair in keyd and have
// certd issue the certificate from a CSR (no extensions), as upstream does for issued identities.
Result<std::string> IdentityManager::issue_identity_cert(const std::string& cert_id,
                                                         const std::string& key_id) {
  const auto& p = config_.provisioning;
  std::optional<Subject> subject = p.source == Source::Dps ? p.registration_subject : p.csr_subject;
  if (!subject) {
    std::string cn = p.source == Source::Dps ? p.registration_id.value_or("") : p.device_id;
    if (cn.empty())
      return invalid("cannot request the identity certificate " + cert_id + ": no registration_id");
    subject = Subject{{{"CN", cn}}};
  }
  auto handle = EDGE_TRY(keys_.create_key_pair_if_not_exists(key_id, "rsa-2048:*"));
  auto key = EDGE_TRY(keyd_private_key(keys_.socket_path(), handle));
  edge::crypto::X509Req req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  for (const auto& [field, value] : subject->fields)
    if (X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1)
      return invalid("invalid subject field " + field);
  X509_REQ_set_pubkey(req.get(), key.get());
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    return edge::internal("could not sign the identity CSR through keyd: " +
                          edge::crypto::last_error());
  edge::crypto::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  auto pem = EDGE_TRY(certs_.create(cert_id, std::string(data, static_cast<size_t>(len))));
  edge::log::info("certd issued the identity certificate " + cert_id);
  return pem;
}

Status IdentityManager::add_tls_identity(CloudOptions& options, const std::string& cert_id,
                                         const std::string& key_id) {
  auto pem = certs_.get(cert_id);
  if (!pem && pem.error().kind == ErrorKind::InvalidParameter)
    pem = issue_identity_cert(cert_id, key_id);
  if (!pem) return fail(pem.error().context("could not load the identity certificate " + cert_id));
  return add_tls_identity_pem(options, *pem, key_id, cert_id);
}

Status IdentityManager::add_tls_identity_pem(CloudOptions& options, const std::string& pem,
                                             const std::string& key_id, const std::string& what) {
  auto handle = keys_.load_key_pair(key_id);
  if (!handle) return fail(handle.error().context("could not load the identity key " + key_id));
  auto owner = std::make_shared<TlsIdentity>();
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
    owner->certs.emplace_back(c);
  ERR_clear_error();
  if (owner->certs.empty())
    return invalid("the identity certificate " + what + " holds no PEM certificate");
  owner->key = EDGE_TRY(keyd_private_key(keys_.socket_path(), *handle));
  edge::cloud::ClientIdentity id;
  for (auto& c : owner->certs) id.chain.push_back(c.get());
  id.key = owner->key.get();
  options.identity = id;
  options.identity_owner = owner;
  return {};
}

// HMAC-SHA256 with the auth key DPS gave the TPM (tpmd's sign_with_auth_key).
Signer IdentityManager::tpm_signer() {
  return [this](std::string_view data) { return tpm_.sign_with_auth_key(data); };
}

Result<HubClient> IdentityManager::hub_client() {
  const Device& d = *device_;
  std::optional<Signer> signer;
  CloudOptions options = cloud_options();
  if (d.auth == AuthMethod::X509) EDGE_TRY_VOID(add_tls_identity(options, d.cert_id, d.key_id));
  if (d.auth == AuthMethod::Sas) {
    std::string key_id = d.key_id;
    signer = [this, key_id](std::string_view data) -> Result<std::string> {
      auto handle = EDGE_TRY(keys_.load_key(key_id));
      return keys_.sign_hmac(handle, data);
    };
  }
  if (d.auth == AuthMethod::Tpm) signer = tpm_signer();
  return HubClient({d.hub, d.gateway, d.device_id}, signer, options);
}

Result<Device> IdentityManager::require_device() {
  if (!device_) return invalid("device identity not found");
  return *device_;
}

void IdentityManager::save_device_backup(const Json& info) {
  const Device& d = *device_;
  Json j{{"fingerprint", provisioning_fingerprint(config_.provisioning)},
         {"hubName", d.hub},
         {"deviceId", d.device_id},
         {"gatewayHost", d.gateway},
         {"auth", to_string(d.auth)},
         {"keyId", d.key_id},
         {"certId", d.cert_id},
         {"provisioning", info}};
  if (auto s = edge::fs::write_atomic(config_.homedir + "/" + kDeviceBackupFile, j.dump(), 0600);
      !s)
    edge::log::warn("Failed to save the provisioning state: " + s.error().message);
}

void IdentityManager::load_module_backup() {
  modules_.clear();
  reconciled_.clear();
  auto text = edge::fs::read_file(config_.homedir + "/" + kModuleBackupFile, 8 * 1024 * 1024);
  if (!text || !device_) return;
  auto j = Json::parse(*text, nullptr, false);
  if (!j.is_object() || j.value("hub", "") != device_->hub ||
      j.value("device", "") != device_->device_id)
    return;
  if (j.contains("modules") && j["modules"].is_object())
    for (const auto& [id, m] : j["modules"].items()) {
      if (!m.is_object()) continue;
      Module mod{id, device_->device_id, m.value("generationId", ""), std::nullopt};
      if (m.contains("managedBy") && m["managedBy"].is_string())
        mod.managed_by = m["managedBy"].get<std::string>();
      modules_[id] = mod;
    }
  if (j.contains("principals") && j["principals"].is_array())
    for (const auto& p : j["principals"])
      if (p.is_string()) reconciled_.insert(p.get<std::string>());
}

void IdentityManager::save_module_backup() {
  if (!device_) return;
  Json mods = Json::object();
  for (const auto& [id, m] : modules_) {
    Json e{{"generationId", m.generation_id}};
    if (m.managed_by) e["managedBy"] = *m.managed_by;
    mods[id] = e;
  }
  Json j{{"hub", device_->hub},
         {"device", device_->device_id},
         {"modules", mods},
         {"principals", reconciled_}};
  if (auto s = edge::fs::write_atomic(config_.homedir + "/" + kModuleBackupFile, j.dump(), 0600);
      !s)
    edge::log::warn("Failed to save module identities: " + s.error().message);
}

Result<Device> IdentityManager::provision_from_cloud(
    Json& info, const std::optional<std::pair<std::string, std::string>>& identity) {
  const auto& p = config_.provisioning;
  DpsRequest req;
  CloudOptions dps_options = cloud_options();
  req.endpoint = p.global_endpoint;
  req.scope_id = p.scope_id;
  Device d;
  if (p.method == AuthMethod::SymmetricKey) {
    req.registration_id = *p.registration_id;
    std::string key_id = p.symmetric_key;
    req.signer = [this, key_id](std::string_view data) -> Result<std::string> {
      auto handle = EDGE_TRY(keys_.load_key(key_id));
      return keys_.sign_hmac(handle, data);
    };
    d.auth = AuthMethod::Sas;
    d.key_id = p.symmetric_key;
    info = {{"source", "dps"}, {"auth", "symmetric_key"}};
  } else if (p.method == AuthMethod::X509) {
    auto options = cloud_options();
    if (identity)
      EDGE_TRY_VOID(add_tls_identity_pem(options, identity->first, identity->second,
                                         "renewed " + p.identity_cert));
    else
      EDGE_TRY_VOID(add_tls_identity(options, p.identity_cert, p.identity_pk));
    if (p.registration_id) {
      req.registration_id = *p.registration_id;
    } else {  // the identity certificate's CN, as upstream
      X509* leaf = options.identity->chain[0];
      char cn[256] = {0};
      if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn) <=
          0)
        return invalid("no registration_id configured and the identity certificate has no CN");
      req.registration_id = cn;
    }
    d.auth = AuthMethod::X509;
    d.key_id = p.identity_pk;
    d.cert_id = p.identity_cert;
    info = {{"source", "dps"}, {"auth", "x509"}};
    dps_options = options;
  } else {  // TPM: the keys come from tpmd, which also imports DPS's key and signs with it
    req.registration_id = *p.registration_id;
    auto keys = tpm_.get_tpm_keys();
    if (!keys) return fail(keys.error().context("could not read the TPM's keys"));
    req.tpm = DpsTpm{keys->endorsement_key, keys->storage_root_key,
                     [this](std::string_view blob) { return tpm_.import_auth_key(blob); }};
    req.signer = tpm_signer();
    d.auth = AuthMethod::Tpm;
    info = {{"source", "dps"}, {"auth", "tpm"}};
  }
  if (p.payload_uri) {
    std::string path = p.payload_uri->substr(7);
    auto text = edge::fs::read_file(path, 64 * 1024);
    if (!text)
      return invalid("could not read the DPS payload " + path + ": " + text.error().message);
    auto j = Json::parse(*text, nullptr, false);
    if (j.is_discarded()) return invalid("the DPS payload " + path + " is not JSON");
    req.payload = j;
  }
  edge::log::info("Provisioning with DPS: registration " + req.registration_id + " in scope " +
                  p.scope_id);
  auto a = EDGE_TRY(dps_register(req, dps_options));
  d.hub = a.assigned_hub;
  d.device_id = a.device_id;
  d.gateway = a.assigned_hub;
  info["endpoint"] = p.global_endpoint;
  info["scope_id"] = p.scope_id;
  info["registration_id"] = req.registration_id;
  info["payload"] = a.payload ? *a.payload : Json(nullptr);
  return d;
}

Status IdentityManager::provision(bool allow_backup, bool offline_fallback) {
  const auto& p = config_.provisioning;
  device_.reset();
  if (p.source == Source::None) {
    info_ = {{"source", "none"}};
    return {};
  }
  if (p.source == Source::Manual) {
    Device d;
    d.hub = p.iothub_hostname;
    d.device_id = p.device_id;
    d.gateway = p.local_gateway_hostname.value_or(p.iothub_hostname);
    d.auth = p.method;
    d.key_id = p.method == AuthMethod::Sas ? p.device_id_pk : p.identity_pk;
    d.cert_id = p.identity_cert;
    device_ = d;
    info_ = {{"source", "manual"}, {"auth", to_string(p.method)}};
    if (p.method ==
        AuthMethod::X509) {  // make sure the identity certificate exists (issue it if not)
      CloudOptions probe;
      if (auto s = add_tls_identity(probe, d.cert_id, d.key_id); !s)
        edge::log::warn("Failed to load the device identity certificate: " + s.error().message);
    }
    save_device_backup(info_);
    edge::log::info("Provisioned manually: device " + d.device_id + " in hub " + d.hub);
    return {};
  }
  // DPS: the saved result, when it belongs to this configuration.
  std::optional<Json> backup;
  if (auto text = edge::fs::read_file(config_.homedir + "/" + kDeviceBackupFile, 64 * 1024)) {
    auto j = Json::parse(*text, nullptr, false);
    if (j.is_object() && j.value("fingerprint", "") == provisioning_fingerprint(p) &&
        j.contains("hubName"))
      backup = j;
  }
  auto from_backup = [&](const Json& j) {
    Device d;
    d.hub = j.value("hubName", "");
    d.device_id = j.value("deviceId", "");
    d.gateway = j.value("gatewayHost", d.hub);
    std::string auth = j.value("auth", "sas");
    d.auth = auth == "x509" ? AuthMethod::X509 : auth == "tpm" ? AuthMethod::Tpm : AuthMethod::Sas;
    d.key_id = j.value("keyId", "");
    d.cert_id = j.value("certId", "");
    device_ = d;
    info_ = j.contains("provisioning") ? j["provisioning"] : Json{{"source", "dps"}};
  };
  if (allow_backup && backup) {
    from_backup(*backup);
    edge::log::info("Using the saved provisioning state: device " + device_->device_id +
                    " in hub " + device_->hub);
    return {};
  }
  Json info;
  auto d = provision_from_cloud(info);
  if (!d) {
    if (offline_fallback && backup && is_network_error(d.error())) {
      from_backup(*backup);
      edge::log::warn("Could not reach DPS (" + d.error().message +
                      "); starting offline with the saved provisioning state: device " +
                      device_->device_id + " in hub " + device_->hub);
      return {};
    }
    return fail(d.error().context("DPS provisioning failed"));
  }
  device_ = *d;
  info_ = info;
  save_device_backup(info_);
  edge::log::info("Provisioned with DPS: device " + d->device_id + " in hub " + d->hub);
  return {};
}

Status IdentityManager::start() {
  std::lock_guard lock(mutex_);
  edge::fs::remove_stale_temp_files(config_.homedir);
  if (auto pem = certs_.get("aziot-edged-trust-bundle")) trust_bundle_ = *pem;
  bool allow_backup = config_.reprovision_mode != ReprovisionMode::AlwaysOnStartup;
  EDGE_TRY_VOID(provision(allow_backup, true));
  load_module_backup();
  auto r = reconcile_locked();
  if (!r && config_.provisioning.source == Source::Dps &&
      config_.reprovision_mode == ReprovisionMode::Dynamic && !is_network_error(r.error())) {
    edge::log::warn("Module reconcile failed (" + r.error().message + "); reprovisioning once");
    if (auto p = provision(false, true); p) {
      load_module_backup();
      r = reconcile_locked();
    }
  }
  if (!r) {
    if (is_network_error(r.error()))
      edge::log::warn("IoT Hub is unreachable (" + r.error().message +
                      "); serving module identities from the saved state");
    else
      edge::log::warn("Failed to reconcile module identities: " + r.error().message);
  }
  return {};
}

Status IdentityManager::reprovision() {
  std::lock_guard lock(mutex_);
  if (config_.provisioning.source == Source::None) return invalid("provisioning source is none");
  auto saved_device = device_;
  auto saved_info = info_;
  if (auto s = provision(false, false); !s) {
    device_ = saved_device;  // keep serving the identity we had
    info_ = saved_info;
    return fail(client_error(s.error()));
  }
  modules_.clear();
  reconciled_.clear();
  load_module_backup();
  if (auto r = reconcile_locked(); !r)
    edge::log::warn("Failed to reconcile module identities: " + r.error().message);
  return {};
}

Status IdentityManager::reconcile_locked() {
  if (!device_) return {};
  std::set<std::string> wanted;
  for (const auto& p : config_.principals)
    if (p.has(IdType::Module)) wanted.insert(p.name);
  if (wanted.empty() && reconciled_.empty()) return {};
  auto hub = EDGE_TRY(hub_client());
  auto existing = EDGE_TRY(hub.list_modules());
  std::set<std::string> present;
  for (const auto& m : existing) present.insert(m.module_id);
  // Delete modules this daemon created for principals that are gone.
  for (auto it = reconciled_.begin(); it != reconciled_.end();) {
    if (wanted.contains(*it)) {
      ++it;
      continue;
    }
    if (present.contains(*it)) EDGE_TRY_VOID(hub.delete_module(*it));
    edge::log::info("Removed module identity " + *it + " (no longer a principal)");
    modules_.erase(*it);
    it = reconciled_.erase(it);
  }
  for (const auto& id : wanted) {
    if (present.contains(id)) {
      for (const auto& m : existing)
        if (m.module_id == id) modules_[id] = m;
    } else {
      auto m = EDGE_TRY(hub.create_module(id));
      auto keys = EDGE_TRY(module_keys(m));
      m = EDGE_TRY(hub.update_module_keys(id, std::string(keys.second.first.view()),
                                          std::string(keys.second.second.view())));
      modules_[id] = m;
      edge::log::info("Created module identity " + id);
    }
    reconciled_.insert(id);
  }
  save_module_backup();
  return {};
}

Result<std::pair<std::string, std::pair<edge::Secret, edge::Secret>>> IdentityManager::module_keys(
    const Module& m) {
  auto master = EDGE_TRY(keys_.create_key_if_not_exists(kMasterKeyId, "derive,sign"));
  auto primary =
      EDGE_TRY(keys_.derive_key(master, m.module_id + ":" + m.generation_id + ":primary"));
  auto secondary =
      EDGE_TRY(keys_.derive_key(master, m.module_id + ":" + m.generation_id + ":secondary"));
  auto primary_bytes = EDGE_TRY(keys_.export_key(primary));
  auto secondary_bytes = EDGE_TRY(keys_.export_key(secondary));
  return std::pair{primary, std::pair{std::move(primary_bytes), std::move(secondary_bytes)}};
}

Result<Json> IdentityManager::module_identity(const Module& m, bool with_auth) {
  const Device& d = *device_;
  Json spec{{"hubName", d.hub},
            {"gatewayHost", d.gateway},
            {"deviceId", m.device_id.empty() ? d.device_id : m.device_id},
            {"moduleId", m.module_id}};
  if (!m.generation_id.empty()) spec["genId"] = m.generation_id;
  if (with_auth) {
    auto master = EDGE_TRY(keys_.create_key_if_not_exists(kMasterKeyId, "derive,sign"));
    auto primary =
        EDGE_TRY(keys_.derive_key(master, m.module_id + ":" + m.generation_id + ":primary"));
    spec["auth"] = {{"type", "sas"}, {"keyHandle", primary}};
  }
  return Json{{"type", "aziot"}, {"spec", spec}};
}

Result<Json> IdentityManager::device_identity() {
  Device d;
  {
    std::lock_guard lock(mutex_);  // the keyd call below needs no lock
    d = EDGE_TRY(require_device());
  }
  Json auth;
  if (d.auth == AuthMethod::Tpm) {
    auth = {{"type", "tpm"}};  // the key stays in the TPM: no handle, as upstream
  } else if (d.auth == AuthMethod::Sas) {
    auto handle = keys_.load_key(d.key_id);
    if (!handle) return fail(client_error(handle.error()));
    auth = {{"type", "sas"}, {"keyHandle", *handle}};
  } else {
    auto handle = keys_.load_key_pair(d.key_id);
    if (!handle) return fail(client_error(handle.error()));
    auth = {{"type", "x509"}, {"keyHandle", *handle}, {"certId", d.cert_id}};
  }
  return Json{{"type", "aziot"},
              {"spec",
               {{"hubName", d.hub},
                {"gatewayHost", d.gateway},
                {"deviceId", d.device_id},
                {"auth", auth}}}};
}

Json IdentityManager::provisioning_info() {
  std::lock_guard lock(mutex_);
  return info_;
}

Result<Module> IdentityManager::fetch_module(const std::string& id) {
  auto cached = modules_.find(id);
  if (config_.prefer_module_identity_cache && cached != modules_.end()) return cached->second;
  auto hub = hub_client();
  auto m = hub ? hub->get_module(id) : Result<Module>(std::unexpected(hub.error()));
  if (m) {
    modules_[id] = *m;
    save_module_backup();
    return *m;
  }
  if (cached != modules_.end()) {
    edge::log::warn("Failed to get module " + id + " from IoT Hub (" + m.error().message +
                    "); using the saved identity");
    return cached->second;
  }
  return fail(client_error(m.error()));
}

Result<Json> IdentityManager::get_module(const std::string& id, bool local) {
  EDGE_TRY_VOID(check_module_id(id));
  std::lock_guard lock(mutex_);
  if (local) {
    LocalIdOpts opts;
    for (const auto& p : config_.principals)
      if (p.name == id && p.localid) opts = *p.localid;
    return local_identity(id, opts);
  }
  EDGE_TRY(require_device());
  auto m = EDGE_TRY(fetch_module(id));
  auto identity = module_identity(m, true);
  if (!identity) return fail(client_error(identity.error()));
  return identity;
}

Result<Json> IdentityManager::create_module(const std::string& id, bool local,
                                            const std::optional<LocalIdOpts>& opts) {
  EDGE_TRY_VOID(check_module_id(id));
  std::lock_guard lock(mutex_);
  if (local) return local_identity(id, opts.value_or(LocalIdOpts{}));
  EDGE_TRY(require_device());
  auto hub_or = hub_client();
  if (!hub_or) return fail(client_error(hub_or.error()));
  auto& hub = *hub_or;
  auto m = hub.create_module(id);
  if (!m) return fail(client_error(m.error()));
  return publish_module_keys(hub, id, *m);
}

Result<Json> IdentityManager::update_module(const std::string& id) {
  EDGE_TRY_VOID(check_module_id(id));
  std::lock_guard lock(mutex_);
  EDGE_TRY(require_device());
  auto hub_or = hub_client();
  if (!hub_or) return fail(client_error(hub_or.error()));
  auto& hub = *hub_or;
  auto current = hub.get_module(id);
  if (!current) return fail(client_error(current.error()));
  return publish_module_keys(hub, id, *current);
}

// The module's keys derived from its generation id (keyd), set in the hub, the identity kept
// and backed up; the answer carries the primary key's handle. Called with mutex_ held.
Result<Json> IdentityManager::publish_module_keys(HubClient& hub, const std::string& id,
                                                  const Module& module) {
  auto keys = module_keys(module);
  if (!keys) return fail(client_error(keys.error()));
  auto updated = hub.update_module_keys(id, std::string(keys->second.first.view()),
                                        std::string(keys->second.second.view()));
  if (!updated) return fail(client_error(updated.error()));
  modules_[id] = *updated;
  save_module_backup();
  Json spec = EDGE_TRY(module_identity(*updated, false));
  spec["spec"]["auth"] = {{"type", "sas"}, {"keyHandle", keys->first}};
  return spec;
}

Status IdentityManager::delete_module(const std::string& id, bool local) {
  EDGE_TRY_VOID(check_module_id(id));
  std::lock_guard lock(mutex_);
  if (local) return {};  // nothing is kept for local identities
  EDGE_TRY(require_device());
  auto hub = hub_client();
  if (!hub) return fail(client_error(hub.error()));
  if (auto s = hub->delete_module(id); !s) return fail(client_error(s.error()));
  modules_.erase(id);
  reconciled_.erase(id);
  save_module_backup();
  return {};
}

Result<Json> IdentityManager::list_modules() {
  std::lock_guard lock(mutex_);
  EDGE_TRY(require_device());
  auto hub = hub_client();
  if (!hub) return fail(client_error(hub.error()));
  auto list = hub->list_modules();
  if (!list) return fail(client_error(list.error()));
  Json identities = Json::array();
  for (const auto& m : *list) {
    modules_[m.module_id] = m;
    identities.push_back(EDGE_TRY(module_identity(m, false)));
  }
  save_module_backup();
  return Json{{"identities", identities}};
}

std::string IdentityManager::trust_bundle() {
  std::lock_guard lock(mutex_);
  return trust_bundle_;
}

Result<Json> IdentityManager::local_identity(const std::string& id, const LocalIdOpts& opts) {
  if (!config_.localid_domain)
    return invalid("local identities need [localid] in the configuration");
  using namespace edge::crypto;
  PKeyCtx kctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!kctx || EVP_PKEY_keygen_init(kctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(kctx.get(), 2048) <= 0 ||
      EVP_PKEY_keygen(kctx.get(), &raw) <= 0)
    return edge::internal("could not generate a key: " + last_error());
  PKey key(raw);
  std::string cn = id + "." + config_.hostname + "." + *config_.localid_domain;
  if (cn.size() > 64) cn.resize(64);
  X509Req req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_REQ_set_pubkey(req.get(), key.get());
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  auto add = [&](int nid, const char* value) {
    if (X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, nullptr, nid, value))
      sk_X509_EXTENSION_push(exts, e);
  };
  add(NID_basic_constraints, "critical,CA:FALSE");
  add(NID_key_usage, "critical,digitalSignature,nonRepudiation,keyEncipherment");
  add(NID_ext_key_usage,
      opts.attributes == "server" ? "critical,clientAuth,serverAuth" : "critical,clientAuth");
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    return edge::internal("could not sign the CSR: " + last_error());
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string csr(data, static_cast<size_t>(len));
  auto pem = certs_.create(id, csr);
  if (!pem) return fail(client_error(pem.error()));
  Bio cbio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  X509Ptr cert(PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr));
  if (!cert) return edge::internal("certd returned no certificate");
  auto pk = EDGE_TRY(private_key_to_pkcs8_pem(key.get()));
  return Json{{"type", "local"},
              {"spec",
               {{"moduleId", id},
                {"auth",
                 {{"privateKey", pk},
                  {"certificate", *pem},
                  {"expiration", rfc3339(X509_get0_notAfter(cert.get()))}}}}}};
}

}  // namespace identityd
