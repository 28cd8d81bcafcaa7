// The tpmd client (what identityd uses) and the DPS-side challenge (what the hub emulator
// uses) together: the DPS TPM key exchange without DPS.
#include <catch2/catch.hpp>

#include "common/clients/tpmd_client.h"
#include "common/crypto.h"
#include "common/tpm/dps_blob.h"
#include "tests/tpmd/fixture.h"

TEST_CASE("tpmd client runs the DPS TPM key exchange against the DPS-side helper") {
  tpmd_test::Tpmd t;
  edge::clients::TpmdClient client(t.socket);
  auto keys = client.get_tpm_keys();
  REQUIRE(keys);
  auto challenge = tpm::dps::make_auth_key_challenge(keys->endorsement_key, keys->storage_root_key);
  REQUIRE(challenge);
  CHECK(challenge->key.size() == 32);
  REQUIRE(client.import_auth_key(challenge->blob));
  // A DPS SAS token's string to sign: "<scope>/registrations/<id>\n<expiry>".
  const std::string to_sign = "0ne00000000%2fregistrations%2fmy-device\n1700000000";
  auto sig = client.sign_with_auth_key(to_sign);
  REQUIRE(sig);
  CHECK(*sig == *edge::crypto::hmac_sha256(challenge->key.view(), to_sign));

  // Errors come back as values with tpmd's message.
  auto bad = client.import_auth_key("garbage");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == edge::ErrorKind::InvalidParameter);
  CHECK(bad.error().message.find("malformed") != std::string::npos);
  t.stop();
  auto down = client.sign_with_auth_key("x");
  REQUIRE_FALSE(down);
  CHECK(down.error().kind == edge::ErrorKind::Unavailable);

  // Bad public keys are refused by the helper.
  CHECK_FALSE(tpm::dps::make_auth_key_challenge("xx", keys->storage_root_key));
}
