// Hub: device and module twins, service-side updates, deployments (applyConfigurationContent).
#include "emulator/hub.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

static edge::Error too_large(const char* which, size_t limit) {
  return hub_error(
      ErrorKind::PayloadTooLarge, "RequestEntityTooLarge",
      std::string(which) + " properties exceed the " + std::to_string(limit / 1024) + " KB limit");
}

Json Hub::twin_view(const std::string& dev, const std::string& mod) const {
  const Json& entry = *identity_entry(dev, mod);
  const Json& device = (*device_entry(dev))["device"];
  const Json& identity = mod.empty() ? device : entry["module"];
  const Json& t = entry["twin"];
  Json desired = t["desired"], reported = t["reported"];
  desired["$version"] = t["dv"];
  reported["$version"] = t["rv"];
  Json view = {
      {"deviceId", dev},
      {"etag", t["etag"]},
      {"deviceEtag", identity["etag"]},
      {"status", device.value("status", "enabled")},
      {"statusUpdateTime", device.value("statusUpdatedTime", "")},
      {"connectionState", is_online(client_id_of(dev, mod)) ? "Connected" : "Disconnected"},
      {"lastActivityTime", identity.value("lastActivityTime", "")},
      {"cloudToDeviceMessageCount", 0},
      {"authenticationType", identity["authentication"].value("type", "sas")},
      {"x509Thumbprint", identity["authentication"]["x509Thumbprint"]},
      {"modelId", ""},
      {"version", t["version"]},
      {"properties", {{"desired", desired}, {"reported", reported}}}};
  if (!mod.empty()) {
    view["moduleId"] = mod;
  } else {
    view["tags"] = t["tags"];
    view["capabilities"] = device["capabilities"];
    view["deviceScope"] = device.value("deviceScope", Json());
    view["parentScopes"] = device.value("parentScopes", Json::array());
  }
  return view;
}

edge::Result<Json> Hub::get_twin(const std::string& dev, const std::string& mod) const {
  std::lock_guard lock(mu_);
  if (!identity_entry(dev, mod))
    return edge::fail(hub_error(ErrorKind::NotFound,
                                mod.empty() ? "DeviceNotFound" : "ModuleNotFound",
                                "Twin of " + client_id_of(dev, mod) + " not found"));
  return twin_view(dev, mod);
}

void Hub::push_desired_locked(const std::string& dev, const std::string& mod, const Json& patch,
                              int64_t version) {
  std::string cid = client_id_of(dev, mod);
  if (!is_online(cid, "desired")) return;
  Json body = patch;
  body["$version"] = version;
  publish(cid, "$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(version),
          body.dump());
}

// Applies a desired patch (or full replacement) and notifies a subscribed device with the delta.
void Hub::set_desired_locked(const std::string& dev, const std::string& mod, Json& entry,
                             const Json& desired, bool replace) {
  Json& t = entry["twin"];
  Json clean = strip_metadata(desired);
  Json delta = clean;
  if (replace) {
    // The device merges what it receives, so it gets the difference, removals as null.
    delta = diff_patch(t["desired"], clean);
    t["desired"] = clean;
  } else {
    merge_patch(t["desired"], clean);
  }
  t["dv"] = t["dv"].get<int64_t>() + 1;
  t["version"] = t["version"].get<int64_t>() + 1;
  t["etag"] = new_etag();
  push_desired_locked(dev, mod, delta, t["dv"].get<int64_t>());
}

edge::Result<Json> Hub::update_twin(const std::string& dev, const std::string& mod,
                                    const Json& body, const std::string& if_match, bool replace) {
  std::lock_guard lock(mu_);
  Json* entry = identity_entry(dev, mod);
  if (!entry)
    return edge::fail(hub_error(ErrorKind::NotFound,
                                mod.empty() ? "DeviceNotFound" : "ModuleNotFound",
                                "Twin of " + client_id_of(dev, mod) + " not found"));
  if (!body.is_object())
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "twin body must be an object"));
  Json& t = (*entry)["twin"];
  std::string etag = t["etag"];
  if (!etag_matches(if_match, etag))
    return edge::fail(hub_error(ErrorKind::Conflict, "PreconditionFailed", "twin etag mismatch"));
  Json props = body.value("properties", Json::object());
  if (!props.is_object())
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "properties must be an object"));
  if (props.contains("reported"))
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                "reported properties are read-only for the service"));
  bool has_desired = props.contains("desired");
  Json desired = props.value("desired", Json::object());
  if (has_desired && !desired.is_object())
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "desired must be an object"));
  if (has_desired) {
    Json next = t["desired"];
    if (replace)
      next = strip_metadata(desired);
    else
      merge_patch(next, strip_metadata(desired));
    if (properties_size(next) > config_.twin_properties_limit)
      return edge::fail(too_large("desired", config_.twin_properties_limit));
  }
  if (body.contains("tags")) {
    if (!body["tags"].is_object())
      return edge::fail(
          hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "tags must be an object"));
    if (replace)
      t["tags"] = body["tags"];
    else
      merge_patch(t["tags"], body["tags"]);
    t["version"] = t["version"].get<int64_t>() + 1;
    t["etag"] = new_etag();
  }
  if (has_desired) set_desired_locked(dev, mod, *entry, desired, replace);
  save();
  return twin_view(dev, mod);
}

edge::Status Hub::apply_configuration(const std::string& dev, const Json& content) {
  std::lock_guard lock(mu_);
  Json* d = device_entry(dev);
  if (!d)
    return edge::fail(
        hub_error(ErrorKind::NotFound, "DeviceNotFound", "Device " + dev + " not found"));
  auto bad = [](const std::string& why) {
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", why));
  };
  if (!content.is_object()) return bad("configuration content must be an object");
  Json modules = content.value("modulesContent", Json());
  Json device_content = content.value("deviceContent", Json());
  if (modules.is_null() && device_content.is_null())
    return bad("modulesContent or deviceContent is required");
  if (!modules.is_null()) {
    if (!modules.is_object()) return bad("modulesContent must be an object");
    if (!(*d)["device"]["capabilities"].value("iotEdge", false))
      return bad("modulesContent can only be applied to an IoT Edge device");
    for (const char* sys : {"$edgeAgent", "$edgeHub"})
      if (!modules.contains(sys)) return bad(std::string("modulesContent must contain ") + sys);
    for (auto it = modules.begin(); it != modules.end(); ++it) {
      const Json& desired = it.value().value("properties.desired", Json());
      if (!desired.is_object())
        return bad("modulesContent." + it.key() + " needs a properties.desired object");
      if (properties_size(strip_metadata(desired)) > config_.twin_properties_limit)
        return edge::fail(too_large("desired", config_.twin_properties_limit));
    }
  }
  if (!device_content.is_null()) {
    const Json& desired =
        device_content.is_object() ? device_content.value("properties.desired", Json()) : Json();
    if (!desired.is_object()) return bad("deviceContent needs a properties.desired object");
    set_desired_locked(dev, "", *d, desired, true);
  }
  if (!modules.is_null()) {
    for (auto it = modules.begin(); it != modules.end(); ++it) {
      const Json& desired = it.value()["properties.desired"];
      if (Json* m = identity_entry(dev, it.key()); m && m != d)
        set_desired_locked(dev, it.key(), *m, desired, true);
      else
        (*d)["pendingModules"][it.key()] =
            strip_metadata(desired);  // applied when the module is created
    }
  }
  save();
  return {};
}

}  // namespace emulator
