// Hub: DPS TPM attestation. A device registers with its endorsement key (EK) and storage root
// key (SRK) and no token; DPS answers 401 with an "authenticationKey": a fresh HMAC key that only
// that TPM can import (MakeCredential to the EK, duplicated to the SRK). The device signs its
// next request's SAS token with the imported key. On assignment the hub device gets that key as
// its symmetric key, and the registration result carries it again (a new blob) for the device.
#include "common/base64.h"
#include "common/tpm/dps_blob.h"
#include "emulator/hub.h"
#include "emulator/hub_internal.h"
#include "emulator/sas.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

namespace {
constexpr size_t kMaxTpmPublic = 2048;  // a marshaled RSA-4096 TPM2B_PUBLIC is ~600 bytes

edge::Error bad_request(const std::string& why) {
  return hub_error(ErrorKind::InvalidParameter, "BadRequest", why);
}
edge::Error unauthorized(const std::string& why) {
  return hub_error(ErrorKind::Unauthorized, "Unauthorized", why);
}

// DPS ends its activation blob with one more field after the key's TPM2B_PUBLIC: a TPM2B_DATA
// ("encUriData"). Microsoft's SDKs read it (the Node TPM client refuses a blob without it; the C
// client reads its size); upstream aziot-tpmd ignores what follows the public area. Ours is empty.
std::string activation_blob(const std::string& blob) { return blob + std::string(2, '\0'); }

}  // namespace

edge::Result<std::string> detail::tpm_public_bytes(const Json& value, const char* what) {
  if (!value.is_string()) return edge::fail(bad_request(std::string(what) + " is required"));
  auto bytes = edge::base64::decode(value.get<std::string>());
  if (!bytes || bytes->empty() || bytes->size() > kMaxTpmPublic)
    return edge::fail(bad_request(std::string(what) + " is not a base64 TPM2B_PUBLIC"));
  if (auto ok = tpm::dps::check_rsa_public(*bytes, what); !ok)
    return edge::fail(bad_request(ok.error().message));
  return *bytes;
}

edge::Result<DpsReply> Hub::dps_tpm_challenge_locked(const std::string& registration_id,
                                                     const Json& body) {
  const Json& enrollments = state_["enrollments"];
  if (!enrollments.contains(registration_id) || enrollments[registration_id]["type"] != "tpm")
    return edge::fail(unauthorized("no TPM enrollment for registration " + registration_id));
  const Json& e = enrollments[registration_id];
  const Json& tpm = body["tpm"];
  if (!tpm.is_object()) return edge::fail(bad_request("tpm must be an object"));
  std::string ek =
      EDGE_TRY(tpm_public_bytes(tpm.value("endorsementKey", Json()), "endorsementKey"));
  std::string srk =
      EDGE_TRY(tpm_public_bytes(tpm.value("storageRootKey", Json()), "storageRootKey"));
  if (ek != edge::base64::decode(e["endorsementKey"].get<std::string>()).value_or(""))
    return edge::fail(unauthorized("the endorsement key does not match the enrollment"));
  auto challenge = tpm::dps::make_auth_key_challenge(ek, srk);
  if (!challenge) return edge::fail(bad_request(challenge.error().message));
  // Kept until the next challenge for this registration: the device's SAS tokens are checked
  // with it, and it becomes the hub device's key on assignment.
  state_["tpmChallenges"][registration_id] = {{"key", edge::base64::encode(challenge->key.view())},
                                              {"secondaryKey", new_key()},
                                              {"storageRootKey", tpm["storageRootKey"]}};
  save();
  std::string tracking = new_etag();
  return DpsReply{
      401, Json{{"errorCode", 401002},
                {"trackingId", tracking},
                {"message", "TPM attestation: sign with the authentication key"},
                {"timestampUtc", now_iso()},
                {"authenticationKey", edge::base64::encode(activation_blob(challenge->blob))}}};
}

edge::Result<Json> Hub::dps_tpm_authenticate_locked(const std::string& registration_id,
                                                    const Json& enrollment, const SasToken& sas,
                                                    const std::string& resource) const {
  if (!state_.contains("tpmChallenges") || !state_["tpmChallenges"].contains(registration_id))
    return edge::fail(unauthorized("no TPM challenge was issued to this registration"));
  const Json& c = state_["tpmChallenges"][registration_id];
  auto ok = verify_sas(sas, resource, {c["key"].get<std::string>()}, now_s());
  if (!ok) return edge::fail(unauthorized(ok.error().message));
  return Json{{"enrollment", enrollment},
              {"deviceKey", c["key"]},
              {"secondaryKey", c["secondaryKey"]},
              {"tpm", c}};
}

edge::Result<Json> Hub::dps_tpm_result_locked(const Json& proof) const {
  const Json& e = proof["enrollment"];
  auto ek = edge::base64::decode(e["endorsementKey"].get<std::string>());
  auto srk = edge::base64::decode(proof["tpm"]["storageRootKey"].get<std::string>());
  auto key = edge::base64::decode(proof["deviceKey"].get<std::string>());
  if (!ek || !srk || !key) return edge::internal("corrupt TPM registration state");
  auto blob = tpm::dps::make_auth_key_blob(*ek, *srk, edge::Secret(*key));
  if (!blob) return edge::fail(bad_request(blob.error().message));
  return Json{{"authenticationKey", edge::base64::encode(activation_blob(*blob))}};
}

}  // namespace emulator
