// Hub: DPS service API individual enrollments (PUT/GET/DELETE /enrollments/{id}), translated
// to and from the flat enrollment the admin API takes and the hub stores.
#include "emulator/hub.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;

namespace {
edge::Error bad_request(const std::string& why) {
  return hub_error(ErrorKind::InvalidParameter, "BadRequest", why);
}
const Json& member(const Json& j, const char* key) {
  static const Json null;
  return j.is_object() && j.contains(key) ? j[key] : null;
}
}  // namespace

edge::Result<Json> detail::enrollment_from_service(const Json& body) {
  if (!body.is_object()) return edge::fail(bad_request("the enrollment must be a JSON object"));
  const Json& att = member(body, "attestation");
  std::string type = member(att, "type").is_string() ? member(att, "type").get<std::string>() : "";
  Json flat = {{"registrationId", member(body, "registrationId")}};
  if (member(body, "deviceId").is_string()) flat["deviceId"] = body["deviceId"];
  flat["iotEdge"] = member(member(body, "capabilities"), "iotEdge").is_boolean()
                        ? body["capabilities"]["iotEdge"].get<bool>()
                        : false;
  const Json& twin = member(body, "initialTwin");
  Json initial = Json::object();
  if (member(twin, "tags").is_object()) initial["tags"] = twin["tags"];
  if (member(member(twin, "properties"), "desired").is_object())
    initial["desired"] = twin["properties"]["desired"];
  flat["initialTwin"] = initial;
  if (type == "tpm") {
    flat["type"] = "tpm";
    flat["endorsementKey"] = member(member(att, "tpm"), "endorsementKey");
  } else if (type == "symmetricKey") {
    flat["type"] = "symmetricKey";
    for (const char* k : {"primaryKey", "secondaryKey"})
      if (member(member(att, "symmetricKey"), k).is_string()) flat[k] = att["symmetricKey"][k];
  } else if (type == "x509") {
    flat["type"] = "x509";
    flat["certificate"] =
        member(member(member(member(att, "x509"), "clientCertificates"), "primary"), "certificate");
  } else {
    return edge::fail(bad_request("attestation.type must be tpm, symmetricKey or x509"));
  }
  return flat;
}

Json detail::enrollment_to_service(const Json& e) {
  std::string type = e.value("type", "symmetricKey");
  Json att = {{"type", type}};
  if (type == "tpm")
    att["tpm"] = {{"endorsementKey", e["endorsementKey"]}};
  else if (type == "symmetricKey")
    att["symmetricKey"] = {{"primaryKey", e["primaryKey"]}, {"secondaryKey", e["secondaryKey"]}};
  else
    att["x509"] = {{"clientCertificates",
                    {{"primary",
                      {{"certificate", e["certificate"]},
                       {"info", {{"sha1Thumbprint", e.value("thumbprint", "")}}}}}}}};
  const Json& initial = e.value("initialTwin", Json::object());
  Json twin = {{"tags", initial.value("tags", Json::object())},
               {"properties", {{"desired", initial.value("desired", Json::object())}}}};
  return Json{{"registrationId", e["registrationId"]},
              {"deviceId", e["deviceId"]},
              {"attestation", att},
              {"capabilities", {{"iotEdge", e.value("iotEdge", false)}}},
              {"initialTwin", twin},
              {"provisioningStatus", "enabled"},
              {"allocationPolicy", "hashed"}};
}

edge::Result<Json> Hub::get_enrollment(const std::string& registration_id) const {
  std::lock_guard lock(mu_);
  if (!state_["enrollments"].contains(registration_id))
    return edge::fail(
        hub_error(ErrorKind::NotFound, "NotFound", "enrollment " + registration_id + " not found"));
  return state_["enrollments"][registration_id];
}

edge::Status Hub::delete_enrollment(const std::string& registration_id) {
  std::lock_guard lock(mu_);
  if (!state_["enrollments"].contains(registration_id))
    return edge::fail(
        hub_error(ErrorKind::NotFound, "NotFound", "enrollment " + registration_id + " not found"));
  state_["enrollments"].erase(registration_id);
  if (state_.contains("tpmChallenges")) state_["tpmChallenges"].erase(registration_id);
  save();
  return {};
}

}  // namespace emulator
