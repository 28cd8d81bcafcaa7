// The hub's DPS TPM attestation and the DPS service API enrollments, in process: the 401
// challenge, what is refused, and the enrollment shapes. (The whole exchange with a real TPM
// runs in tests/identityd/tpm_test.cpp.)
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <functional>

#include "common/base64.h"
#include "common/crypto.h"
#include "emulator/hub.h"
#include "emulator/hub_internal.h"
#include "emulator/sas.h"

using namespace emulator;

namespace {
// base64 of a marshaled TPM2B_PUBLIC for a fresh software RSA-2048 key (stands in for an EK/SRK).
std::string rsa_tpm_public() {
  EVP_PKEY* raw = EVP_RSA_gen(2048);
  REQUIRE(raw);
  edge::crypto::PKey key(raw);
  BIGNUM* n = nullptr;
  REQUIRE(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1);
  TPM2B_PUBLIC pub{};
  pub.publicArea.type = TPM2_ALG_RSA;
  pub.publicArea.nameAlg = TPM2_ALG_SHA256;
  pub.publicArea.objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                                    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN;
  pub.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  pub.publicArea.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  pub.publicArea.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  pub.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  pub.publicArea.parameters.rsaDetail.keyBits = 2048;
  pub.publicArea.unique.rsa.size = 256;
  BN_bn2binpad(n, pub.publicArea.unique.rsa.buffer, 256);
  BN_free(n);
  uint8_t buf[sizeof(TPM2B_PUBLIC)];
  size_t off = 0;
  REQUIRE(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof buf, &off) == TSS2_RC_SUCCESS);
  return edge::base64::encode(std::string(reinterpret_cast<char*>(buf), off));
}

// How many fields the activation blob has, read as DPS lays it out (what Microsoft's TPM clients
// parse): TPM2B_ID_OBJECT, TPM2B_ENCRYPTED_SECRET, TPM2B_PRIVATE, TPM2B_ENCRYPTED_SECRET,
// TPM2B_PUBLIC, then TPM2B_DATA ("encUriData", empty here). -1 if bytes are left over.
int activation_blob_parts(const std::string& blob) {
  auto* p = reinterpret_cast<const uint8_t*>(blob.data());
  size_t off = 0;
  int parts = 0;
  TPM2B_ID_OBJECT credential{};
  TPM2B_ENCRYPTED_SECRET secret{}, seed{};
  TPM2B_PRIVATE duplicate{};
  TPM2B_PUBLIC object{};
  TPM2B_DATA uri{};
  for (auto step : std::initializer_list<std::function<TSS2_RC()>>{
           [&] { return Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(p, blob.size(), &off, &credential); },
           [&] { return Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(p, blob.size(), &off, &secret); },
           [&] { return Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, blob.size(), &off, &duplicate); },
           [&] { return Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(p, blob.size(), &off, &seed); },
           [&] { return Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, blob.size(), &off, &object); },
           [&] { return Tss2_MU_TPM2B_DATA_Unmarshal(p, blob.size(), &off, &uri); }}) {
    if (step() != TSS2_RC_SUCCESS) break;
    ++parts;
  }
  if (parts == 6 && uri.size != 0) return -1;
  return off == blob.size() ? parts : -1;
}

Hub make_hub() {
  HubConfig c;
  c.hostname = "hub.test";
  return Hub(c);
}

Json tpm_body(const std::string& ek, const std::string& srk, const std::string& reg = "tpm1") {
  return Json{{"registrationId", reg}, {"tpm", {{"endorsementKey", ek}, {"storageRootKey", srk}}}};
}

const char kScope[] = "0ne00000001";
}  // namespace

TEST_CASE("dps tpm enrollments in the admin and service shapes", "[unit]") {
  Hub hub = make_hub();
  std::string ek = rsa_tpm_public();
  // The DPS service API's IndividualEnrollment.
  Json service = {
      {"registrationId", "tpm1"},
      {"deviceId", "dev-tpm"},
      {"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", ek}}}}},
      {"capabilities", {{"iotEdge", true}}},
      {"initialTwin", {{"tags", {{"site", "lab"}}}, {"properties", {{"desired", {{"x", 1}}}}}}}};
  auto stored = hub.put_enrollment(service);
  REQUIRE(stored);
  CHECK((*stored)["type"] == "tpm");
  CHECK((*stored)["deviceId"] == "dev-tpm");
  CHECK((*stored)["iotEdge"] == true);
  CHECK((*stored)["initialTwin"]["desired"]["x"] == 1);
  Json back = detail::enrollment_to_service(*hub.get_enrollment("tpm1"));
  CHECK(back["attestation"]["tpm"]["endorsementKey"] == ek);
  CHECK(back["capabilities"]["iotEdge"] == true);
  CHECK(back["initialTwin"]["tags"]["site"] == "lab");
  // The admin API's flat shape.
  CHECK(hub.put_enrollment(
      Json{{"registrationId", "tpm2"}, {"type", "tpm"}, {"endorsementKey", ek}}));
  // Symmetric-key and X.509 attestations translate too.
  auto sym = hub.put_enrollment(
      Json{{"registrationId", "sym1"},
           {"attestation",
            {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", "cHJpbWFyeQ=="}}}}}});
  REQUIRE(sym);
  CHECK((*sym)["primaryKey"] == "cHJpbWFyeQ==");

  // Refused: endorsement keys that are not an RSA TPM2B_PUBLIC, unknown attestation types.
  for (const Json& bad : {Json("%%%"), Json("AAAA"), Json(42), Json(),
                          Json(edge::base64::encode(std::string(4000, 'e')))}) {
    auto r = hub.put_enrollment(
        Json{{"registrationId", "bad"}, {"type", "tpm"}, {"endorsementKey", bad}});
    CHECK_FALSE(r);
  }
  CHECK_FALSE(
      hub.put_enrollment(Json{{"registrationId", "bad"}, {"attestation", {{"type", "nfc"}}}}));
  CHECK_FALSE(hub.get_enrollment("bad"));
  CHECK(hub.delete_enrollment("tpm2"));
  CHECK_FALSE(hub.get_enrollment("tpm2"));
  CHECK_FALSE(hub.delete_enrollment("tpm2"));
}

TEST_CASE("dps tpm registration answers 401 with an authentication key", "[unit]") {
  Hub hub = make_hub();
  std::string ek = rsa_tpm_public(), srk = rsa_tpm_public();
  REQUIRE(hub.put_enrollment(
      Json{{"registrationId", "tpm1"}, {"type", "tpm"}, {"endorsementKey", ek}}));

  auto challenge = hub.dps_register(kScope, "tpm1", "", nullptr, tpm_body(ek, srk));
  REQUIRE(challenge);
  CHECK(challenge->status == 401);
  auto blob = edge::base64::decode(challenge->body["authenticationKey"].get<std::string>());
  REQUIRE(blob);
  CHECK(blob->size() > 600);  // credential + secret + duplicate + seed + public
  CHECK(activation_blob_parts(*blob) == 6);
  // Every challenge carries a fresh key.
  auto again = hub.dps_register(kScope, "tpm1", "", nullptr, tpm_body(ek, srk));
  CHECK(again->body["authenticationKey"] != challenge->body["authenticationKey"]);

  // A token that is not signed with the challenge's key is refused, at register and at polling.
  std::string resource = std::string(kScope) + "/registrations/tpm1";
  std::string wrong = make_sas(resource, "d3Jvbmcga2V5", std::time(nullptr) + 60, "registration");
  auto r = hub.dps_register(kScope, "tpm1", wrong, nullptr, Json{{"registrationId", "tpm1"}});
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == edge::ErrorKind::Unauthorized);
  CHECK_FALSE(hub.dps_operation(kScope, "tpm1", "op", wrong, nullptr));
  CHECK_FALSE(hub.get_device("tpm1"));

  // Refused challenges: another TPM's EK, malformed keys, no TPM enrollment, wrong scope.
  auto other = hub.dps_register(kScope, "tpm1", "", nullptr, tpm_body(srk, srk));
  REQUIRE_FALSE(other);
  CHECK(other.error().kind == edge::ErrorKind::Unauthorized);
  CHECK(other.error().message.find("does not match") != std::string::npos);
  for (const Json& bad_srk : {Json("%%%"), Json("AAAA"), Json(7), Json()}) {
    auto b = hub.dps_register(kScope, "tpm1", "", nullptr,
                              Json{{"registrationId", "tpm1"},
                                   {"tpm", {{"endorsementKey", ek}, {"storageRootKey", bad_srk}}}});
    REQUIRE_FALSE(b);
    CHECK(b.error().kind == edge::ErrorKind::InvalidParameter);
  }
  CHECK_FALSE(hub.dps_register(kScope, "tpm1", "", nullptr, Json{{"tpm", "x"}}));
  auto none = hub.dps_register(kScope, "nobody", "", nullptr, tpm_body(ek, srk, "nobody"));
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("no TPM enrollment") != std::string::npos);
  CHECK_FALSE(hub.dps_register("0ne99999999", "tpm1", "", nullptr, tpm_body(ek, srk)));
  // A symmetric-key enrollment is not a TPM one.
  REQUIRE(hub.put_enrollment(Json{{"registrationId", "sym1"}}));
  CHECK_FALSE(hub.dps_register(kScope, "sym1", "", nullptr, tpm_body(ek, srk, "sym1")));
}
