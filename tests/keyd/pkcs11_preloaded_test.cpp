// Keys made outside keyd in a PKCS#11 token (as an admin does with pkcs11-tool) and named by
// pkcs11: URIs in [preloaded_keys], with the PIN inline or from a pin-source file.
#include <catch2/catch.hpp>

#include "tests/keyd/fixture.h"

using namespace keyd_test;
using edge::http::Json;

TEST_CASE("preloaded pkcs11 URIs sign with keys made by pkcs11-tool", "[integration][hsm]") {
  // A token of our own, prepared before keyd starts.
  edge::test::TempDir hsm;
  std::string conf = hsm / "softhsm2.conf";
  REQUIRE(edge::test::run("mkdir -p " + hsm / "tokens") == 0);
  edge::test::write_file(conf, "directories.tokendir = " + hsm / "tokens" + "\nobjectstore.backend = file\nlog.level = ERROR\n");
  std::string env = "SOFTHSM2_CONF=" + conf + " ";
  REQUIRE(edge::test::run(env + "softhsm2-util --init-token --free --label edge --so-pin 12345678 --pin 1234 >/dev/null 2>&1") == 0);
  REQUIRE(edge::test::run(env + "pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label edge --login --pin 1234 "
                                "--keypairgen --key-type EC:prime256v1 --label device-ca --id 01 >/dev/null 2>&1") == 0);
  REQUIRE(edge::test::run(env + "pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label edge --login --pin 1234 "
                                "--keypairgen --key-type rsa:2048 --label device-rsa --id 02 >/dev/null 2>&1") == 0);
  edge::test::write_file(hsm / "pin", "1234\n", 0600);

  std::string extra =
      "pkcs11_lib_path = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
      "[preloaded_keys]\n"
      "ca = \"pkcs11:token=edge;object=device-ca?pin-value=1234\"\n"
      "rsa = \"pkcs11:token=edge;object=device%2Drsa?pin-source=file:" + hsm / "pin" + "\"\n"
      "wrongpin = \"pkcs11:token=edge;object=device-ca?pin-value=9999\"\n"
      "notoken = \"pkcs11:token=absent;object=x?pin-value=1234\"\n";
  Keyd keyd(Backend::Files, extra);
  keyd.stop();
  keyd.env["SOFTHSM2_CONF"] = conf;
  keyd.start();

  auto ca = keyd.call("GET", api("/keypair/ca"));
  INFO(ca.body);
  REQUIRE(ca.status == 200);
  auto pub = keyd.public_key(ca.json["keyHandle"]);
  std::string digest = sha256("signed in the HSM");
  auto sig = keyd.call("POST", api("/sign"), Json{{"keyHandle", ca.json["keyHandle"]}, {"algorithm", "ECDSA"}, {"parameters", {{"digest", b64(digest)}}}});
  REQUIRE(sig.status == 200);
  std::string der = unb64(sig.json["signature"]);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pub.get(), nullptr);
  REQUIRE(EVP_PKEY_verify_init(ctx) > 0);
  CHECK(EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                        reinterpret_cast<const unsigned char*>(digest.data()), digest.size()) == 1);
  EVP_PKEY_CTX_free(ctx);

  auto rsa = keyd.call("GET", api("/keypair/rsa"));
  REQUIRE(rsa.status == 200);
  CHECK(keyd.call("POST", api("/parameters/algorithm"), Json{{"keyHandle", rsa.json["keyHandle"]}}).json["value"] == "RSA");

  // A wrong PIN or an absent token is an error for that key only; keyd keeps serving.
  auto wrong = keyd.call("GET", api("/keypair/wrongpin"));
  CHECK(wrong.status >= 400);
  CHECK(keyd.call("GET", api("/keypair/notoken")).status >= 400);
  CHECK(keyd.call("GET", api("/keypair/ca")).status == 200);
  // Nothing of the HSM keys was written to the keys directory.
  for (const auto& f : keyd.key_files()) CHECK(f.starts_with("handlevalidationkey"));
}
