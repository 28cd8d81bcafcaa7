#include "edged/aziot_clients.h"

#include "common/uri.h"

namespace edged {
namespace {
using edge::ErrorKind;

edge::Error answer_error(const std::string& who, const edge::http::ClientResponse& r) {
  std::string message = who + ": " + r.message();
  switch (r.status) {
    case 400: return {ErrorKind::InvalidParameter, message};
    case 401: return {ErrorKind::Unauthorized, message};
    case 404: return {ErrorKind::NotFound, message};
    default: return {ErrorKind::Internal, message + " (HTTP " + std::to_string(r.status) + ")"};
  }
}

Result<Json> exchange(const std::string& who, const std::string& socket, const std::string& method,
                      const std::string& target, const std::optional<Json>& body) {
  edge::http::UnixClient client(socket);
  auto r = client.request(method, target, body);
  if (!r) return edge::fail(ErrorKind::Unavailable, who + ": " + r.error().message);
  if (r->status < 200 || r->status > 299) return edge::fail(answer_error(who, *r));
  if (r->body.empty()) return Json();
  auto json = r->json();
  if (!json) return edge::internal(who + ": malformed response: " + json.error().message);
  return std::move(*json);
}

std::string str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
}  // namespace

Result<Json> CertdClient::call(const std::string& method, const std::string& path,
                               const std::optional<Json>& body) {
  return exchange("certd", path_, method, path + "?api-version=2020-09-01", body);
}

Result<std::string> CertdClient::get(const std::string& id) {
  auto j = EDGE_TRY(call("GET", "/certificates/" + edge::uri::percent_encode(id), std::nullopt));
  return str(j, "pem");
}

Result<std::string> CertdClient::create(
    const std::string& id, const std::string& csr_pem,
    const std::optional<std::pair<std::string, std::string>>& issuer) {
  Json body{{"certId", id}, {"csr", csr_pem}};
  if (issuer) body["issuer"] = Json{{"certId", issuer->first}, {"privateKeyHandle", issuer->second}};
  auto j = EDGE_TRY(call("POST", "/certificates", body));
  auto pem = str(j, "pem");
  if (pem.empty()) return edge::internal("certd: response has no \"pem\"");
  return pem;
}

Status CertdClient::import(const std::string& id, const std::string& pem) {
  EDGE_TRY(call("PUT", "/certificates/" + edge::uri::percent_encode(id), Json{{"pem", pem}}));
  return {};
}

Status CertdClient::remove(const std::string& id) {
  EDGE_TRY(call("DELETE", "/certificates/" + edge::uri::percent_encode(id), std::nullopt));
  return {};
}

Result<AziotIdentity> parse_aziot_identity(const Json& identity) {
  if (!identity.is_object() || str(identity, "type") != "aziot" || !identity.contains("spec") ||
      !identity["spec"].is_object())
    return edge::internal("identityd: not an aziot identity");
  const Json& spec = identity["spec"];
  AziotIdentity id{str(spec, "hubName"), str(spec, "gatewayHost"), str(spec, "deviceId"),
                   str(spec, "moduleId"), str(spec, "genId"), "", ""};
  if (auto a = spec.find("auth"); a != spec.end() && a->is_object()) {
    id.auth_type = str(*a, "type");
    id.key_handle = str(*a, "keyHandle");
  }
  if (id.hub_name.empty() || id.device_id.empty())
    return edge::internal("identityd: identity without hubName or deviceId");
  return id;
}

Result<Json> IdentitydClient::call(const std::string& method, const std::string& target,
                                   const std::optional<Json>& body) {
  std::string t = target + (target.find('?') == std::string::npos ? "?" : "&") +
                  "api-version=" + kApiVersion;
  return exchange("identityd", path_, method, t, body);
}

Result<AziotIdentity> IdentitydClient::device_identity() {
  return parse_aziot_identity(EDGE_TRY(call("POST", "/identities/device", Json{{"type", "aziot"}})));
}

Result<AziotIdentity> IdentitydClient::module_identity(const std::string& module_id) {
  return parse_aziot_identity(EDGE_TRY(
      call("GET", "/identities/modules/" + edge::uri::percent_encode(module_id) + "?type=aziot",
           std::nullopt)));
}

Result<std::vector<AziotIdentity>> IdentitydClient::list_modules() {
  auto j = EDGE_TRY(call("GET", "/identities/modules?type=aziot", std::nullopt));
  std::vector<AziotIdentity> out;
  if (!j.is_object() || !j.contains("identities") || !j["identities"].is_array())
    return edge::internal("identityd: malformed identity list");
  for (const auto& i : j["identities"]) out.push_back(EDGE_TRY(parse_aziot_identity(i)));
  return out;
}

Result<AziotIdentity> IdentitydClient::create_module(const std::string& module_id) {
  return parse_aziot_identity(EDGE_TRY(
      call("POST", "/identities/modules", Json{{"type", "aziot"}, {"moduleId", module_id}})));
}

Result<AziotIdentity> IdentitydClient::update_module(const std::string& module_id) {
  return parse_aziot_identity(EDGE_TRY(
      call("PUT", "/identities/modules/" + edge::uri::percent_encode(module_id) + "?type=aziot",
           Json::object())));
}

Status IdentitydClient::delete_module(const std::string& module_id) {
  EDGE_TRY(call("DELETE",
                "/identities/modules/" + edge::uri::percent_encode(module_id) + "?type=aziot",
                std::nullopt));
  return {};
}

}  // namespace edged
