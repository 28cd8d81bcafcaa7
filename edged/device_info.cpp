#include "edged/device_info.h"

#include "common/base64.h"
#include "common/crypto.h"
#include "common/http/client.h"

namespace edged {
using edge::fail;
using edge::Result;
using edge::http::Json;

namespace {
constexpr char kApi[] = "api-version=2020-09-01";

Result<Json> call(const std::string& socket, const std::string& method, const std::string& target,
                  const std::optional<Json>& body) {
  edge::http::UnixClient client(socket, std::chrono::seconds(90));  // hub calls take a while
  auto r = client.request(method, target, body);
  if (!r) return fail(edge::ErrorKind::Unavailable, "identity service: " + r.error().message);
  if (r->status == 204) return Json();
  if (r->status != 200) {
    edge::ErrorKind kind = r->status == 404                       ? edge::ErrorKind::NotFound
                           : r->status == 401 || r->status == 403 ? edge::ErrorKind::Forbidden
                                                                  : edge::ErrorKind::Internal;
    return fail(kind,
                "identity service answered " + std::to_string(r->status) + ": " + r->message());
  }
  return r->json();
}

Result<std::string> generation_id(const Json& identity) {
  if (!identity.is_object() || identity.value("type", "") != "aziot" || !identity.contains("spec"))
    return edge::internal("invalid identity type for $edgeAgent");
  std::string gen = identity["spec"].value("genId", "");
  if (gen.empty()) return edge::internal("$edgeAgent identity missing generation ID");
  return gen;
}
}  // namespace

Result<DeviceInfo> IdentityClient::device() {
  auto j = EDGE_TRY(
      call(socket_, "POST", std::string("/identities/device?") + kApi, Json{{"type", "aziot"}}));
  if (!j.is_object() || j.value("type", "") != "aziot" || !j.contains("spec") ||
      !j["spec"].is_object())
    return edge::internal("invalid device identity");
  const Json& spec = j["spec"];
  DeviceInfo d{spec.value("deviceId", ""), spec.value("hubName", ""),
               spec.value("gatewayHost", "")};
  if (d.device_id.empty() || d.hub_name.empty()) return edge::internal("invalid device identity");
  if (d.gateway_host.empty()) d.gateway_host = d.hub_name;
  return d;
}

Result<std::string> IdentityClient::update_agent_identity() {
  auto j = EDGE_TRY(call(socket_, "PUT",
                         std::string("/identities/modules/$edgeAgent?type=aziot&") + kApi,
                         Json{{"type", "aziot"}, {"moduleId", "$edgeAgent"}}));
  return generation_id(j);
}

Result<std::string> IdentityClient::agent_generation_id() {
  auto j = EDGE_TRY(call(socket_, "GET",
                         std::string("/identities/modules/$edgeAgent?type=aziot&") + kApi,
                         std::nullopt));
  return generation_id(j);
}

edge::Status IdentityClient::reprovision() {
  EDGE_TRY(call(socket_, "POST", std::string("/identities/device/reprovision?") + kApi,
                Json{{"type", "aziot"}}));
  return {};
}

std::string provisioning_digest(const DeviceInfo& device) {
  Json j{{"device_id", device.device_id},
         {"gateway_host_name", device.gateway_host},
         {"hub_name", device.hub_name}};
  return edge::base64::encode(edge::crypto::sha256(j.dump()));
}

}  // namespace edged
