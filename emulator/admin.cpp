// Hub: conveniences for tests and the demo (create an identity with one call, describe the hub).
#include "emulator/hub.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;

edge::Result<Json> Hub::admin_create_device(const Json& body) {
  if (!body.is_object() || !body.value("deviceId", Json()).is_string())
    return edge::invalid("deviceId is required");
  std::string id = body["deviceId"];
  Json device = {{"deviceId", id}, {"capabilities", {{"iotEdge", body.value("edge", false)}}}};
  if (body.contains("x509Thumbprint"))
    device["authentication"] = {
        {"type", "selfSigned"},
        {"x509Thumbprint", {{"primaryThumbprint", body["x509Thumbprint"]}}}};
  else if (body.value("certificateAuthority", false))
    device["authentication"] = {{"type", "certificateAuthority"}};
  else
    device["authentication"] = {{"type", "sas"},
                                {"symmetricKey",
                                 {{"primaryKey", body.value("primaryKey", "")},
                                  {"secondaryKey", body.value("secondaryKey", "")}}}};
  if (body.value("parent", Json()).is_string()) {
    auto parent = get_device(body["parent"]);
    if (!parent) return edge::fail(parent.error());
    if (!(*parent)["capabilities"].value("iotEdge", false))
      return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                  "a parent must be an IoT Edge device"));
    device["parentScopes"] = Json::array({(*parent)["deviceScope"]});
    if (!body.value("edge", false)) device["deviceScope"] = (*parent)["deviceScope"];
  }
  Json created = EDGE_TRY(put_device(id, device, ""));
  Json out = {{"device", created},
              {"connectionString", connection_string(id)},
              {"modules", Json::object()}};
  for (const auto& m : body.value("modules", Json::array())) {
    if (!m.is_string()) continue;
    EDGE_TRY(put_module(id, m, Json{{"moduleId", m}}, ""));
  }
  const Json modules = list_modules(id).value_or(Json::array());
  for (const auto& m : modules) {
    std::string mid = m["moduleId"];
    out["modules"][mid] = connection_string(id, mid);
  }
  return out;
}

Json Hub::info() const {
  return Json{{"hostname", config_.hostname},
              {"idScope", config_.dps_id_scope},
              {"serviceConnectionString", service_connection_string()}};
}

}  // namespace emulator
