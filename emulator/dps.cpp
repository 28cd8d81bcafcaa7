// Hub: the Device Provisioning Service side: enrollments, registration, operation status.
#include "common/crypto.h"
#include "emulator/hub.h"
#include "emulator/hub_internal.h"
#include "emulator/pki.h"
#include "emulator/sas.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

static edge::Error dps_unauthorized(const std::string& why) {
  return hub_error(ErrorKind::Unauthorized, "Unauthorized", why);
}

edge::Result<Json> Hub::put_enrollment(const Json& request) {
  // The DPS service API's shape ({"attestation": {"type": ...}}) or the admin API's flat one.
  Json body = request;
  if (request.is_object() && request.contains("attestation"))
    body = EDGE_TRY(enrollment_from_service(request));
  if (!body.is_object() || !body.value("registrationId", Json()).is_string())
    return edge::invalid("registrationId is required");
  std::string reg = body["registrationId"];
  std::string type = body.value("type", "symmetricKey");
  Json e = {{"registrationId", reg},
            {"type", type},
            {"deviceId", body.value("deviceId", reg)},
            {"iotEdge", body.value("iotEdge", false)},
            {"initialTwin", body.value("initialTwin", Json::object())}};
  if (type == "symmetricKey") {
    e["primaryKey"] = body.value("primaryKey", new_key());
    e["secondaryKey"] = body.value("secondaryKey", new_key());
  } else if (type == "x509") {
    if (!body.value("certificate", Json()).is_string())
      return edge::invalid("x509 enrollments need a certificate (PEM)");
    e["certificate"] = body["certificate"];
    e["thumbprint"] = EDGE_TRY(pki::thumbprint_sha1_of_pem(body["certificate"]));
  } else if (type == "tpm") {
    EDGE_TRY(tpm_public_bytes(body.value("endorsementKey", Json()), "endorsementKey"));
    e["endorsementKey"] = body["endorsementKey"];
  } else {
    return edge::invalid("type must be symmetricKey, x509 or tpm");
  }
  std::lock_guard lock(mu_);
  state_["enrollments"][reg] = e;
  if (state_.contains("tpmChallenges")) state_["tpmChallenges"].erase(reg);
  save();
  return e;
}

edge::Result<Json> Hub::put_enrollment_group(const Json& body) {
  if (!body.is_object() || !body.value("groupId", Json()).is_string())
    return edge::invalid("groupId is required");
  std::string id = body["groupId"];
  std::string type = body.value("type", "symmetricKey");
  Json g = {{"groupId", id},
            {"type", type},
            {"iotEdge", body.value("iotEdge", false)},
            {"initialTwin", body.value("initialTwin", Json::object())}};
  if (type == "symmetricKey") {
    g["primaryKey"] = body.value("primaryKey", new_key());
    g["secondaryKey"] = body.value("secondaryKey", new_key());
  } else if (type == "x509") {
    if (!body.value("certificate", Json()).is_string())
      return edge::invalid("x509 groups need a CA certificate (PEM)");
    EDGE_TRY(pki::thumbprint_sha1_of_pem(body["certificate"]));
    g["certificate"] = body["certificate"];
  } else {
    return edge::invalid("type must be symmetricKey or x509");
  }
  std::lock_guard lock(mu_);
  state_["groups"][id] = g;
  save();
  return g;
}

// Finds the enrollment the caller proves, as {enrollment, deviceKey?}.
edge::Result<Json> Hub::dps_authenticate(const std::string& scope,
                                         const std::string& registration_id,
                                         const std::string& authorization, X509* cert) const {
  if (scope != config_.dps_id_scope) return edge::fail(dps_unauthorized("unknown ID scope"));
  const Json& enrollments = state_["enrollments"];
  const Json& groups = state_["groups"];
  if (!authorization.empty()) {
    auto sas = parse_sas(authorization);
    if (!sas) return edge::fail(dps_unauthorized(sas.error().message));
    std::string resource = scope + "/registrations/" + registration_id;
    if (enrollments.contains(registration_id)) {
      const Json& e = enrollments[registration_id];
      if (e["type"] == "tpm")
        return dps_tpm_authenticate_locked(registration_id, e, *sas, resource);
      if (e["type"] != "symmetricKey")
        return edge::fail(dps_unauthorized("enrollment does not use symmetric keys"));
      auto ok = verify_sas(*sas, resource, {e["primaryKey"], e["secondaryKey"]}, now_s());
      if (!ok) return edge::fail(dps_unauthorized(ok.error().message));
      return Json{
          {"enrollment", e}, {"deviceKey", e["primaryKey"]}, {"secondaryKey", e["secondaryKey"]}};
    }
    for (auto it = groups.begin(); it != groups.end(); ++it) {
      const Json& g = it.value();
      if (g["type"] != "symmetricKey") continue;
      std::string primary = derive_device_key(g["primaryKey"].get<std::string>(), registration_id);
      std::string secondary =
          derive_device_key(g["secondaryKey"].get<std::string>(), registration_id);
      if (verify_sas(*sas, resource, {primary, secondary}, now_s()))
        return Json{{"enrollment", g}, {"deviceKey", primary}, {"secondaryKey", secondary}};
    }
    return edge::fail(dps_unauthorized("no enrollment accepts this token"));
  }
  if (!cert) return edge::fail(dps_unauthorized("no SAS token and no client certificate"));
  if (enrollments.contains(registration_id) && enrollments[registration_id]["type"] == "tpm")
    return edge::fail(dps_unauthorized("TPM enrollments need a SAS token"));
  std::string cn = pki::common_name(cert);
  if (cn != registration_id)
    return edge::fail(dps_unauthorized("certificate CN does not match the registration id"));
  if (enrollments.contains(registration_id)) {
    const Json& e = enrollments[registration_id];
    if (e["type"] == "x509" && e["thumbprint"] == pki::thumbprint_sha1(cert))
      return Json{{"enrollment", e}};
    return edge::fail(dps_unauthorized("client certificate does not match the enrollment"));
  }
  for (auto it = groups.begin(); it != groups.end(); ++it)
    if (it.value()["type"] == "x509" && pki::chains_to(cert, {}, it.value()["certificate"]))
      return Json{{"enrollment", it.value()}};
  return edge::fail(dps_unauthorized("no enrollment accepts this certificate"));
}

edge::Result<Json> Hub::dps_assign(const std::string& registration_id, const Json& proof,
                                   X509* cert, const Json& payload) {
  const Json& e = proof["enrollment"];
  std::string dev = e.value("deviceId", registration_id);
  Json auth;
  if (proof.contains("deviceKey")) {
    auth = {{"type", "sas"},
            {"symmetricKey",
             {{"primaryKey", proof["deviceKey"]}, {"secondaryKey", proof["secondaryKey"]}}}};
  } else if (e.contains("registrationId")) {
    auth = {{"type", "selfSigned"},
            {"x509Thumbprint", {{"primaryThumbprint", pki::thumbprint_sha1(cert)}}}};
  } else {
    auth = {{"type", "certificateAuthority"}};
    state_["caCertificates"][e["groupId"].get<std::string>()] = e["certificate"];
  }
  Json device_body = {{"deviceId", dev},
                      {"authentication", auth},
                      {"capabilities", {{"iotEdge", e.value("iotEdge", false)}}}};
  bool existed = device_entry(dev) != nullptr;
  EDGE_TRY(put_device_locked(dev, device_body, existed ? "*" : ""));
  const Json& initial = e.value("initialTwin", Json::object());
  if (!existed && initial.is_object() && initial.contains("desired") &&
      initial["desired"].is_object())
    set_desired_locked(dev, "", *device_entry(dev), initial["desired"], true);
  if (!existed && initial.is_object() && initial.contains("tags") && initial["tags"].is_object())
    (*device_entry(dev))["twin"]["tags"] = initial["tags"];
  std::string now = now_iso();
  Json state = {{"registrationId", registration_id},
                {"createdDateTimeUtc", now},
                {"assignedHub", config_.hostname},
                {"deviceId", dev},
                {"status", "assigned"},
                {"substatus", existed ? "reprovisionedToInitialAssignment" : "initialAssignment"},
                {"lastUpdatedDateTimeUtc", now},
                {"etag", new_etag()}};
  if (!payload.is_null()) state["payload"] = payload;
  if (proof.contains("tpm")) state["tpm"] = EDGE_TRY(dps_tpm_result_locked(proof));
  return state;
}

edge::Result<DpsReply> Hub::dps_register(const std::string& scope,
                                         const std::string& registration_id,
                                         const std::string& authorization, X509* cert,
                                         const Json& body) {
  if (!body.is_object())
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "BadRequest", "request body must be a JSON object"));
  if (body.contains("registrationId") && body["registrationId"] != registration_id)
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "BadRequest",
                                "registrationId does not match the URL"));
  std::lock_guard lock(mu_);
  if (authorization.empty() && body.contains("tpm")) {
    if (scope != config_.dps_id_scope) return edge::fail(dps_unauthorized("unknown ID scope"));
    return dps_tpm_challenge_locked(registration_id, body);
  }
  Json proof = EDGE_TRY(dps_authenticate(scope, registration_id, authorization, cert));
  Json state = EDGE_TRY(dps_assign(registration_id, proof, cert, body.value("payload", Json())));
  std::string op = "4.";
  op += edge::crypto::hex(edge::crypto::random_bytes(8).value_or("opopopop")) + "." +
        edge::crypto::hex(edge::crypto::random_bytes(8).value_or("opopopop"));
  // The assignment is done now, but the client learns it by polling, as with the real service.
  state_["registrations"][registration_id] = {{"operationId", op}, {"registrationState", state}};
  save();
  return DpsReply{202, Json{{"operationId", op}, {"status", "assigning"}}};
}

edge::Result<DpsReply> Hub::dps_operation(const std::string& scope,
                                          const std::string& registration_id,
                                          const std::string& operation_id,
                                          const std::string& authorization, X509* cert) {
  std::lock_guard lock(mu_);
  EDGE_TRY(dps_authenticate(scope, registration_id, authorization, cert));
  const Json& regs = state_["registrations"];
  if (!regs.contains(registration_id) || regs[registration_id]["operationId"] != operation_id)
    return edge::fail(
        hub_error(ErrorKind::NotFound, "NotFound", "operation " + operation_id + " not found"));
  return DpsReply{200, Json{{"operationId", operation_id},
                            {"status", "assigned"},
                            {"registrationState", regs[registration_id]["registrationState"]}}};
}

}  // namespace emulator
