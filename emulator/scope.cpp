// Hub: the device-scope API an edgeHub uses to learn which identities may connect through it
// (nested hierarchies: deviceScope / parentScopes). Shapes follow upstream edgeHub's clients.
#include "emulator/hub.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;

// The edge device whose deviceScope is `scope`, or empty.
std::string Hub::device_with_scope_locked(const std::string& scope) const {
  for (auto it = state_["devices"].begin(); it != state_["devices"].end(); ++it) {
    const Json& d = it.value()["device"];
    if (d["capabilities"].value("iotEdge", false) && d.value("deviceScope", Json()) == scope)
      return it.key();
  }
  return {};
}

// True when `target` is `actor` or below it in the hierarchy.
bool Hub::in_hierarchy_locked(const std::string& actor, const std::string& target) const {
  std::string cur = target;
  for (int depth = 0; depth < 16 && !cur.empty(); ++depth) {
    if (cur == actor) return true;
    const Json* entry = device_entry(cur);
    if (!entry) return false;
    const Json& parents = (*entry)["device"].value("parentScopes", Json::array());
    const Json& own = (*entry)["device"].value("deviceScope", Json());
    // A leaf's parent is named by its deviceScope; an edge device's by parentScopes[0].
    if ((*entry)["device"]["capabilities"].value("iotEdge", false))
      cur = parents.empty() || !parents[0].is_string() ? "" : device_with_scope_locked(parents[0]);
    else
      cur = own.is_string() ? device_with_scope_locked(own) : "";
  }
  return false;
}

edge::Result<Json> Hub::identities_in_scope(const std::string& actor,
                                            const std::string& target) const {
  std::lock_guard lock(mu_);
  const Json* t = device_entry(target);
  if (!device_entry(actor) || !t)
    return edge::fail(hub_error(ErrorKind::NotFound, "DeviceNotFound", "device not found"));
  if (!in_hierarchy_locked(actor, target))
    return edge::fail(hub_error(ErrorKind::Unauthorized, "IotHubUnauthorizedAccess",
                                target + " is not in the scope of " + actor));
  const Json& scope = (*t)["device"].value("deviceScope", Json());
  Json devices = Json::array(), modules = Json::array();
  for (auto it = state_["devices"].begin(); it != state_["devices"].end(); ++it) {
    const Json& d = it.value()["device"];
    bool child_leaf = !d["capabilities"].value("iotEdge", false) && scope.is_string() &&
                      d.value("deviceScope", Json()) == scope;
    bool child_edge = false;
    for (const auto& p : d.value("parentScopes", Json::array()))
      child_edge |= scope.is_string() && p == scope;
    if (it.key() == target || child_leaf || child_edge) devices.push_back(d);
  }
  for (auto it = (*t)["modules"].begin(); it != (*t)["modules"].end(); ++it)
    modules.push_back(it.value()["module"]);
  return Json{{"devices", devices}, {"modules", modules}, {"continuationLink", nullptr}};
}

edge::Result<Json> Hub::identity_in_scope(const std::string& actor, const std::string& target_dev,
                                          const std::string& target_mod) const {
  std::lock_guard lock(mu_);
  const Json* d = device_entry(target_dev);
  if (!device_entry(actor) || !d)
    return edge::fail(hub_error(ErrorKind::NotFound, "DeviceNotFound", "device not found"));
  if (!in_hierarchy_locked(actor, target_dev)) {
    // The identity may also be a child (leaf or edge) of a device in the hierarchy.
    bool ok = false;
    const Json& own = (*d)["device"].value("deviceScope", Json());
    if (own.is_string()) ok = in_hierarchy_locked(actor, device_with_scope_locked(own));
    if (!ok)
      return edge::fail(hub_error(ErrorKind::Unauthorized, "IotHubUnauthorizedAccess",
                                  target_dev + " is not in scope"));
  }
  Json modules = Json::array();
  if (!target_mod.empty()) {
    const Json* m = identity_entry(target_dev, target_mod);
    if (!m) return edge::fail(hub_error(ErrorKind::NotFound, "ModuleNotFound", "module not found"));
    modules.push_back((*m)["module"]);
  }
  return Json{{"devices", Json::array({(*d)["device"]})},
              {"modules", modules},
              {"continuationLink", nullptr}};
}

}  // namespace emulator
