// Hub: registry of devices and modules, authentication, persistence.
#include "emulator/hub.h"

#include <atomic>
#include <chrono>
#include <ctime>

#include "common/base64.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/log.h"
#include "emulator/hub_internal.h"
#include "emulator/mqtt_connect.h"
#include "emulator/pki.h"
#include "emulator/sas.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

edge::Error hub_error(ErrorKind kind, const std::string& name, const std::string& text) {
  return edge::Error{kind, name + ";" + text};
}

namespace detail {

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us));
  return out;
}

std::string new_key() { return edge::base64::encode(edge::crypto::random_bytes(32).value_or(std::string(32, 'k'))); }

std::string new_generation_id() {
  auto bytes = edge::crypto::random_bytes(8).value_or(std::string(8, '\1'));
  uint64_t n = 0;
  for (unsigned char c : bytes) n = (n << 8) | c;
  return "63" + std::to_string(100000000000000000ULL + n % 800000000000000000ULL).substr(0, 16);
}

std::string new_etag() {
  static std::atomic<uint64_t> counter{0};
  auto r = edge::crypto::random_bytes(2).value_or("ee");
  uint64_t n = (++counter << 16) | (static_cast<unsigned char>(r[0]) << 8) | static_cast<unsigned char>(r[1]);
  return edge::base64::encode(std::to_string(n));
}

bool etag_matches(std::string if_match, const std::string& etag) {
  if (if_match.size() >= 2 && if_match.front() == '"' && if_match.back() == '"') if_match = if_match.substr(1, if_match.size() - 2);
  return if_match.empty() || if_match == "*" || if_match == etag;
}

std::string client_id_of(const std::string& dev, const std::string& mod) {
  return mod.empty() ? dev : dev + "/" + mod;
}

Json new_twin_state() {
  return Json{{"tags", Json::object()}, {"desired", Json::object()}, {"reported", Json::object()},
              {"dv", 1}, {"rv", 1}, {"version", 1}, {"etag", new_etag()}};
}

void merge_patch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null())
      target.erase(it.key());
    else
      merge_patch(target[it.key()], it.value());
  }
}

Json diff_patch(const Json& from, const Json& to) {
  Json patch = Json::object();
  for (auto it = from.begin(); from.is_object() && it != from.end(); ++it)
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  for (auto it = to.begin(); it != to.end(); ++it) {
    auto old = from.is_object() ? from.find(it.key()) : from.end();
    if (old == from.end() || !old->is_object() || !it->is_object()) {
      if (old == from.end() || *old != *it) patch[it.key()] = *it;
      continue;
    }
    Json sub = diff_patch(*old, *it);
    if (!sub.empty()) patch[it.key()] = std::move(sub);
  }
  return patch;
}

size_t properties_size(const Json& props) { return props.dump().size(); }

Json strip_metadata(const Json& props) {
  Json out = Json::object();
  if (!props.is_object()) return out;
  for (auto it = props.begin(); it != props.end(); ++it)
    if (!it.key().starts_with("$")) out[it.key()] = it.value();
  return out;
}

}  // namespace detail

Hub::Hub(HubConfig config) : config_(std::move(config)) {
  state_ = Json{{"devices", Json::object()}, {"enrollments", Json::object()}, {"groups", Json::object()},
                {"registrations", Json::object()},
                {"policies", {{"iothubowner", new_key()}, {"service", new_key()}, {"registryReadWrite", new_key()}}}};
}

edge::Status Hub::load() {
  if (config_.state_dir.empty()) return {};
  std::string path = config_.state_dir + "/state.json";
  if (!edge::fs::exists(path)) {
    std::lock_guard lock(mu_);
    save();
    return {};
  }
  auto text = EDGE_TRY(edge::fs::read_file(path, 256 * 1024 * 1024));
  Json loaded = Json::parse(text, nullptr, false);
  if (loaded.is_discarded() || !loaded.is_object()) return edge::invalid(path + " is not valid JSON");
  std::lock_guard lock(mu_);
  for (auto it = loaded.begin(); it != loaded.end(); ++it) state_[it.key()] = it.value();
  return {};
}

void Hub::save() {
  if (config_.state_dir.empty()) return;
  auto st = edge::fs::write_atomic(config_.state_dir + "/state.json", state_.dump(1), 0600);
  if (!st) edge::log::error("emulator: could not save state: " + st.error().message);
}

Json* Hub::device_entry(const std::string& dev) {
  auto& devices = state_["devices"];
  auto it = devices.find(dev);
  return it == devices.end() ? nullptr : &*it;
}
const Json* Hub::device_entry(const std::string& dev) const {
  const auto& devices = state_["devices"];
  auto it = devices.find(dev);
  return it == devices.end() ? nullptr : &*it;
}
Json* Hub::identity_entry(const std::string& dev, const std::string& mod) {
  Json* d = device_entry(dev);
  if (!d || mod.empty()) return d;
  auto& modules = (*d)["modules"];
  auto it = modules.find(mod);
  return it == modules.end() ? nullptr : &*it;
}
const Json* Hub::identity_entry(const std::string& dev, const std::string& mod) const {
  const Json* d = device_entry(dev);
  if (!d || mod.empty()) return d;
  const auto& modules = (*d)["modules"];
  auto it = modules.find(mod);
  return it == modules.end() ? nullptr : &*it;
}

static edge::Error not_found(const std::string& dev, const std::string& mod) {
  if (mod.empty()) return hub_error(ErrorKind::NotFound, "DeviceNotFound", "Device " + dev + " not found");
  return hub_error(ErrorKind::NotFound, "ModuleNotFound", "Module " + mod + " on device " + dev + " not found");
}

static bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id)
    if (!(std::isalnum(c) || std::string_view("-.%_*?!(),:=@$'").find(static_cast<char>(c)) != std::string_view::npos))
      return false;
  return true;
}

static std::string upper_hex(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Fills `authentication` from a request body, generating SAS keys when none are given.
static edge::Result<Json> authentication_from(const Json& body) {
  Json in = body.value("authentication", Json::object());
  if (!in.is_object()) return edge::invalid("authentication must be an object");
  std::string type = in.value("type", "sas");
  Json out = {{"symmetricKey", {{"primaryKey", nullptr}, {"secondaryKey", nullptr}}},
              {"x509Thumbprint", {{"primaryThumbprint", nullptr}, {"secondaryThumbprint", nullptr}}},
              {"type", type}};
  if (type == "sas") {
    Json keys = in.value("symmetricKey", Json::object());
    for (const char* which : {"primaryKey", "secondaryKey"}) {
      std::string k = keys.is_object() && keys.contains(which) && keys[which].is_string() ? keys[which].get<std::string>() : "";
      if (k.empty()) k = new_key();
      auto raw = edge::base64::decode(k);
      if (!raw || raw->size() < 16 || raw->size() > 64)
        return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                    "The symmetric key must be base64 of 16 to 64 bytes"));
      out["symmetricKey"][which] = k;
    }
  } else if (type == "selfSigned") {
    Json tp = in.value("x509Thumbprint", Json::object());
    if (!tp.is_object() || !tp.value("primaryThumbprint", Json()).is_string())
      return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "primaryThumbprint is required"));
    for (const char* which : {"primaryThumbprint", "secondaryThumbprint"})
      if (tp.contains(which) && tp[which].is_string()) out["x509Thumbprint"][which] = upper_hex(tp[which].get<std::string>());
  } else if (type != "certificateAuthority" && type != "none") {
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "unknown authentication type " + type));
  }
  return out;
}

edge::Result<Json> Hub::put_device(const std::string& id, const Json& body, const std::string& if_match) {
  std::lock_guard lock(mu_);
  auto r = put_device_locked(id, body, if_match);
  if (r) save();
  return r;
}

edge::Result<Json> Hub::put_device_locked(const std::string& id, const Json& body, const std::string& if_match) {
  if (!valid_id(id)) return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "invalid device id " + id));
  if (!body.is_object()) return edge::invalid("device body must be a JSON object");
  if (body.contains("deviceId") && body["deviceId"] != id)
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "deviceId in body does not match the URL"));
  Json* existing = device_entry(id);
  if (existing && if_match.empty())
    return edge::fail(hub_error(ErrorKind::Conflict, "DeviceAlreadyExists", "A device with ID '" + id + "' is already registered."));
  if (existing && !etag_matches(if_match, (*existing)["device"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  Json auth = EDGE_TRY(authentication_from(body));
  bool edge_device = body.value("capabilities", Json::object()).value("iotEdge", false);
  std::string status = body.value("status", "enabled");
  if (status != "enabled" && status != "disabled") return edge::invalid("status must be enabled or disabled");
  std::string now = now_iso();
  Json device;
  if (existing) {
    device = (*existing)["device"];
  } else {
    device = {{"deviceId", id}, {"generationId", new_generation_id()}, {"connectionState", "Disconnected"},
              {"connectionStateUpdatedTime", "0001-01-01T00:00:00Z"}, {"lastActivityTime", "0001-01-01T00:00:00Z"},
              {"cloudToDeviceMessageCount", 0}, {"statusReason", nullptr}, {"statusUpdatedTime", now}};
  }
  device["etag"] = new_etag();
  if (device.value("status", "") != status) device["statusUpdatedTime"] = now;
  device["status"] = status;
  device["authentication"] = auth;
  device["capabilities"] = {{"iotEdge", edge_device}};
  std::string own_scope = "ms-azure-iot-edge://" + id + "-" + device["generationId"].get<std::string>();
  if (body.contains("deviceScope") && body["deviceScope"].is_string())
    device["deviceScope"] = body["deviceScope"];
  else if (edge_device)
    device["deviceScope"] = own_scope;
  else if (!device.contains("deviceScope"))
    device["deviceScope"] = nullptr;
  if (edge_device) device["deviceScope"] = own_scope;  // an edge device's scope is always its own
  device["parentScopes"] = body.contains("parentScopes") && body["parentScopes"].is_array() ? body["parentScopes"]
                                                                                            : device.value("parentScopes", Json::array());
  if (!existing) {
    state_["devices"][id] = {{"device", device}, {"twin", new_twin_state()}, {"modules", Json::object()},
                             {"pendingModules", Json::object()}};
    if (edge_device)
      for (const char* sys : {"$edgeAgent", "$edgeHub"})
        (void)put_module_locked(id, sys, Json{{"moduleId", sys}}, "");
  } else {
    (*existing)["device"] = device;
    if (status == "disabled") outbox_.push_back({Outbound::Kind::Kick, id, {}, {}});
  }
  return get_device_view_locked(id);
}

edge::Result<Json> Hub::get_device(const std::string& id) const {
  std::lock_guard lock(mu_);
  return get_device_view_locked(id);
}

edge::Result<Json> Hub::get_device_view_locked(const std::string& id) const {
  const Json* d = device_entry(id);
  if (!d) return edge::fail(not_found(id, ""));
  Json out = (*d)["device"];
  out["connectionState"] = is_online(id) ? "Connected" : "Disconnected";
  return out;
}

Json Hub::list_devices() const {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (auto it = state_["devices"].begin(); it != state_["devices"].end(); ++it)
    out.push_back(*get_device_view_locked(it.key()));
  return out;
}

edge::Status Hub::delete_device(const std::string& id, const std::string& if_match) {
  std::lock_guard lock(mu_);
  Json* d = device_entry(id);
  if (!d) return edge::fail(not_found(id, ""));
  if (!etag_matches(if_match, (*d)["device"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  for (auto it = (*d)["modules"].begin(); it != (*d)["modules"].end(); ++it)
    outbox_.push_back({Outbound::Kind::Kick, client_id_of(id, it.key()), {}, {}});
  outbox_.push_back({Outbound::Kind::Kick, id, {}, {}});
  state_["devices"].erase(id);
  save();
  return {};
}

edge::Result<Json> Hub::put_module(const std::string& dev, const std::string& mod, const Json& body,
                                   const std::string& if_match) {
  std::lock_guard lock(mu_);
  auto r = put_module_locked(dev, mod, body, if_match);
  if (r) save();
  return r;
}

edge::Result<Json> Hub::put_module_locked(const std::string& dev, const std::string& mod, const Json& body,
                                          const std::string& if_match) {
  Json* d = device_entry(dev);
  if (!d) return edge::fail(not_found(dev, ""));
  if (!valid_id(mod)) return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "invalid module id " + mod));
  if (!body.is_object()) return edge::invalid("module body must be a JSON object");
  if (body.contains("moduleId") && body["moduleId"] != mod)
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "moduleId in body does not match the URL"));
  auto& modules = (*d)["modules"];
  bool exists = modules.contains(mod);
  if (exists && if_match.empty())
    return edge::fail(hub_error(ErrorKind::Conflict, "ModuleAlreadyExistsOnDevice",
                                "A module with ID '" + mod + "' is already registered on device '" + dev + "'."));
  if (exists && !etag_matches(if_match, modules[mod]["module"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  Json auth = EDGE_TRY(authentication_from(body));
  Json module = exists ? modules[mod]["module"]
                       : Json{{"moduleId", mod}, {"deviceId", dev}, {"generationId", new_generation_id()},
                              {"connectionState", "Disconnected"}, {"connectionStateUpdatedTime", "0001-01-01T00:00:00Z"},
                              {"lastActivityTime", "0001-01-01T00:00:00Z"}, {"cloudToDeviceMessageCount", 0}};
  module["etag"] = new_etag();
  module["authentication"] = auth;
  module["managedBy"] = body.contains("managedBy") ? body["managedBy"] : module.value("managedBy", Json());
  if (exists) {
    modules[mod]["module"] = module;
  } else {
    Json twin = new_twin_state();
    auto& pending = (*d)["pendingModules"];
    if (pending.contains(mod)) {  // a deployment named this module before it existed
      twin["desired"] = pending[mod];
      twin["dv"] = 2;
      pending.erase(mod);
    }
    modules[mod] = {{"module", module}, {"twin", twin}};
  }
  Json out = module;
  out["connectionState"] = is_online(client_id_of(dev, mod)) ? "Connected" : "Disconnected";
  return out;
}

edge::Result<Json> Hub::get_module(const std::string& dev, const std::string& mod) const {
  std::lock_guard lock(mu_);
  const Json* m = identity_entry(dev, mod);
  if (!m) return edge::fail(device_entry(dev) ? not_found(dev, mod) : not_found(dev, ""));
  Json out = (*m)["module"];
  out["connectionState"] = is_online(client_id_of(dev, mod)) ? "Connected" : "Disconnected";
  return out;
}

edge::Result<Json> Hub::list_modules(const std::string& dev) const {
  std::lock_guard lock(mu_);
  const Json* d = device_entry(dev);
  if (!d) return edge::fail(not_found(dev, ""));
  Json out = Json::array();
  for (auto it = (*d)["modules"].begin(); it != (*d)["modules"].end(); ++it) {
    Json m = it.value()["module"];
    m["connectionState"] = is_online(client_id_of(dev, it.key())) ? "Connected" : "Disconnected";
    out.push_back(m);
  }
  return out;
}

edge::Status Hub::delete_module(const std::string& dev, const std::string& mod, const std::string& if_match) {
  std::lock_guard lock(mu_);
  Json* m = identity_entry(dev, mod);
  if (!m || mod.empty()) return edge::fail(device_entry(dev) ? not_found(dev, mod) : not_found(dev, ""));
  if (!etag_matches(if_match, (*m)["module"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  (*device_entry(dev))["modules"].erase(mod);
  outbox_.push_back({Outbound::Kind::Kick, client_id_of(dev, mod), {}, {}});
  save();
  return {};
}

// ---- authentication ----

static edge::Error unauthorized(const std::string& why) {
  return hub_error(ErrorKind::Unauthorized, "IotHubUnauthorizedAccess", why);
}

edge::Status Hub::check_keys(const Json& entry, const std::string& resource, const std::string& token) const {
  auto sas = parse_sas(token);
  if (!sas) return edge::fail(unauthorized(sas.error().message));
  const Json& identity = entry.contains("module") ? entry["module"] : entry["device"];
  if (identity.value("status", "enabled") == "disabled") return edge::fail(unauthorized("device is disabled"));
  const Json& auth = identity["authentication"];
  if (auth.value("type", "") != "sas") return edge::fail(unauthorized("identity does not use SAS authentication"));
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
  if (!sas->resource.starts_with(prefix)) return edge::fail(unauthorized("SAS audience is not this hub"));
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
  std::string id = edge::crypto::hex(edge::crypto::random_bytes(16).value_or(std::to_string(now_s())));
  std::lock_guard lock(mu_);
  std::erase_if(certificate_sessions_, [](const auto& kv) { return kv.second.created < now_s() - 60; });
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
    auto it = certificate_sessions_.find(password.substr(std::string_view(mqtt::kCertSessionPrefix).size()));
    if (it == certificate_sessions_.end()) return edge::fail(unauthorized("unknown certificate session"));
    session = std::move(it->second);
    certificate_sessions_.erase(it);
    cert = session.leaf.get();
    for (auto& c : session.chain) chain.push_back(c.get());
    password.clear();
  }
  const Json* entry = identity_entry(dev, mod);
  if (!entry) return edge::fail(unauthorized("unknown identity " + client_id));
  std::string resource = config_.hostname + "/devices/" + dev + (mod.empty() ? "" : "/modules/" + mod);
  if (!password.empty()) return check_keys(*entry, resource, password);
  const Json& identity = mod.empty() ? (*entry)["device"] : (*entry)["module"];
  if (!cert) return edge::fail(unauthorized("no SAS token and no client certificate"));
  return check_certificate_locked(identity, dev, cert, chain);
}

// X.509: a self-signed thumbprint, or a certificate chaining to a registered CA whose CN is the id.
edge::Status Hub::check_certificate_locked(const Json& identity, const std::string& dev, X509* cert,
                                           const std::vector<X509*>& chain) const {
  if (identity.value("status", "enabled") == "disabled") return edge::fail(unauthorized("device is disabled"));
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
    if (pki::common_name(cert) != dev) return edge::fail(unauthorized("certificate CN does not match the device id"));
    const Json cas = state_.value("caCertificates", Json::object());
    for (auto it = cas.begin(); it != cas.end(); ++it)
      if (pki::chains_to(cert, chain, it.value().get<std::string>())) return {};
    return edge::fail(unauthorized("client certificate does not chain to a registered CA"));
  }
  return edge::fail(unauthorized("identity does not use X.509 authentication"));
}

edge::Result<Caller> Hub::authenticate_rest_certificate(const std::string& dev, X509* cert, STACK_OF(X509) * chain) const {
  if (!cert) return edge::fail(unauthorized("no SAS token and no client certificate"));
  std::vector<X509*> intermediates;
  for (int i = 0; chain && i < sk_X509_num(chain); ++i) intermediates.push_back(sk_X509_value(chain, i));
  std::lock_guard lock(mu_);
  const Json* entry = device_entry(dev);
  if (!entry) return edge::fail(unauthorized("unknown device " + dev));
  EDGE_TRY_VOID(check_certificate_locked((*entry)["device"], dev, cert, intermediates));
  return Caller{Caller::Kind::Device, dev, {}};
}

edge::Result<Json> Hub::put_certificate_authority(const Json& body) {
  if (!body.is_object() || !body.value("name", Json()).is_string() || !body.value("certificate", Json()).is_string())
    return edge::invalid("name and certificate (PEM) are required");
  Json out = {{"name", body["name"]}, {"thumbprint", EDGE_TRY(pki::thumbprint_sha1_of_pem(body["certificate"]))}};
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
  std::string cs = "HostName=" + config_.hostname + ";DeviceId=" + dev + (mod.empty() ? "" : ";ModuleId=" + mod);
  if (key.is_string()) return cs + ";SharedAccessKey=" + key.get<std::string>();
  return cs + ";x509=true";
}

}  // namespace emulator
