// Hub: the identity registry: devices and modules (service REST shapes).
#include "common/base64.h"
#include "emulator/hub.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

static edge::Error not_found(const std::string& dev, const std::string& mod) {
  if (mod.empty())
    return hub_error(ErrorKind::NotFound, "DeviceNotFound", "Device " + dev + " not found");
  return hub_error(ErrorKind::NotFound, "ModuleNotFound",
                   "Module " + mod + " on device " + dev + " not found");
}

static bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id)
    if (!(std::isalnum(c) ||
          std::string_view("-.%_*?!(),:=@$'").find(static_cast<char>(c)) != std::string_view::npos))
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
  Json out = {
      {"symmetricKey", {{"primaryKey", nullptr}, {"secondaryKey", nullptr}}},
      {"x509Thumbprint", {{"primaryThumbprint", nullptr}, {"secondaryThumbprint", nullptr}}},
      {"type", type}};
  if (type == "sas") {
    Json keys = in.value("symmetricKey", Json::object());
    for (const char* which : {"primaryKey", "secondaryKey"}) {
      std::string k = keys.is_object() && keys.contains(which) && keys[which].is_string()
                          ? keys[which].get<std::string>()
                          : "";
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
      return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                  "primaryThumbprint is required"));
    for (const char* which : {"primaryThumbprint", "secondaryThumbprint"})
      if (tp.contains(which) && tp[which].is_string())
        out["x509Thumbprint"][which] = upper_hex(tp[which].get<std::string>());
  } else if (type != "certificateAuthority" && type != "none") {
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                "unknown authentication type " + type));
  }
  return out;
}

edge::Result<Json> Hub::put_device(const std::string& id, const Json& body,
                                   const std::string& if_match) {
  std::lock_guard lock(mu_);
  auto r = put_device_locked(id, body, if_match);
  if (r) save();
  return r;
}

edge::Result<Json> Hub::put_device_locked(const std::string& id, const Json& body,
                                          const std::string& if_match) {
  if (!valid_id(id))
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "invalid device id " + id));
  if (!body.is_object()) return edge::invalid("device body must be a JSON object");
  if (body.contains("deviceId") && body["deviceId"] != id)
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                "deviceId in body does not match the URL"));
  Json* existing = device_entry(id);
  if (existing && if_match.empty())
    return edge::fail(hub_error(ErrorKind::Conflict, "DeviceAlreadyExists",
                                "A device with ID '" + id + "' is already registered."));
  if (existing && !etag_matches(if_match, (*existing)["device"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  Json auth = EDGE_TRY(authentication_from(body));
  bool edge_device = body.value("capabilities", Json::object()).value("iotEdge", false);
  std::string status = body.value("status", "enabled");
  if (status != "enabled" && status != "disabled")
    return edge::invalid("status must be enabled or disabled");
  std::string now = now_iso();
  Json device;
  if (existing) {
    device = (*existing)["device"];
  } else {
    device = {{"deviceId", id},
              {"generationId", new_generation_id()},
              {"connectionState", "Disconnected"},
              {"connectionStateUpdatedTime", "0001-01-01T00:00:00Z"},
              {"lastActivityTime", "0001-01-01T00:00:00Z"},
              {"cloudToDeviceMessageCount", 0},
              {"statusReason", nullptr},
              {"statusUpdatedTime", now}};
  }
  device["etag"] = new_etag();
  if (device.value("status", "") != status) device["statusUpdatedTime"] = now;
  device["status"] = status;
  device["authentication"] = auth;
  device["capabilities"] = {{"iotEdge", edge_device}};
  std::string own_scope =
      "ms-azure-iot-edge://" + id + "-" + device["generationId"].get<std::string>();
  if (body.contains("deviceScope") && body["deviceScope"].is_string())
    device["deviceScope"] = body["deviceScope"];
  else if (edge_device)
    device["deviceScope"] = own_scope;
  else if (!device.contains("deviceScope"))
    device["deviceScope"] = nullptr;
  if (edge_device) device["deviceScope"] = own_scope;  // an edge device's scope is always its own
  device["parentScopes"] = body.contains("parentScopes") && body["parentScopes"].is_array()
                               ? body["parentScopes"]
                               : device.value("parentScopes", Json::array());
  if (!existing) {
    state_["devices"][id] = {{"device", device},
                             {"twin", new_twin_state()},
                             {"modules", Json::object()},
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

edge::Result<Json> Hub::put_module_locked(const std::string& dev, const std::string& mod,
                                          const Json& body, const std::string& if_match) {
  Json* d = device_entry(dev);
  if (!d) return edge::fail(not_found(dev, ""));
  if (!valid_id(mod))
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "invalid module id " + mod));
  if (!body.is_object()) return edge::invalid("module body must be a JSON object");
  if (body.contains("moduleId") && body["moduleId"] != mod)
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                "moduleId in body does not match the URL"));
  auto& modules = (*d)["modules"];
  bool exists = modules.contains(mod);
  if (exists && if_match.empty())
    return edge::fail(
        hub_error(ErrorKind::Conflict, "ModuleAlreadyExistsOnDevice",
                  "A module with ID '" + mod + "' is already registered on device '" + dev + "'."));
  if (exists && !etag_matches(if_match, modules[mod]["module"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  Json auth = EDGE_TRY(authentication_from(body));
  Json module = exists ? modules[mod]["module"]
                       : Json{{"moduleId", mod},
                              {"deviceId", dev},
                              {"generationId", new_generation_id()},
                              {"connectionState", "Disconnected"},
                              {"connectionStateUpdatedTime", "0001-01-01T00:00:00Z"},
                              {"lastActivityTime", "0001-01-01T00:00:00Z"},
                              {"cloudToDeviceMessageCount", 0}};
  module["etag"] = new_etag();
  module["authentication"] = auth;
  module["managedBy"] =
      body.contains("managedBy") ? body["managedBy"] : module.value("managedBy", Json());
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

edge::Status Hub::delete_module(const std::string& dev, const std::string& mod,
                                const std::string& if_match) {
  std::lock_guard lock(mu_);
  Json* m = identity_entry(dev, mod);
  if (!m || mod.empty())
    return edge::fail(device_entry(dev) ? not_found(dev, mod) : not_found(dev, ""));
  if (!etag_matches(if_match, (*m)["module"]["etag"]))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "etag mismatch"));
  (*device_entry(dev))["modules"].erase(mod);
  outbox_.push_back({Outbound::Kind::Kick, client_id_of(dev, mod), {}, {}});
  save();
  return {};
}

}  // namespace emulator
