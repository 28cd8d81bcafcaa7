// aziot-tpmd and aziot-keyd (TPM backend) on the same swtpm at the same time, as on a device:
// each opens the TPM per operation and flushes what it loaded, so they take turns.
#include <catch2/catch.hpp>
#include <thread>

#include "common/crypto.h"
#include "common/tpm/dps_blob.h"
#include "tests/tpmd/fixture.h"

using edge::http::Json;
using namespace tpmd_test;

TEST_CASE("tpmd and keyd share one TPM concurrently") {
  Tpmd t;
  auto keys = t.get_keys();
  REQUIRE(keys.status == 200);
  const std::string auth_key = "dps auth key";
  auto blob =
      tpm::dps::make_auth_key_blob(unb64(keys.json["endorsement_key"]),
                                   unb64(keys.json["storage_root_key"]), edge::Secret(auth_key));
  REQUIRE(blob);
  REQUIRE(t.import(*blob).status == 200);

  std::string keyd_socket = t.dir / "keyd.sock";
  edge::test::write_file(t.dir / "keyd.toml",
                         "[aziot_keys]\nhomedir_path = \"" + (t.dir / "keyd-home") +
                             "\"\ntpm_tcti = \"" + t.swtpm.tcti() +
                             "\"\n[endpoints]\naziot_keyd = \"unix://" + keyd_socket + "\"\n",
                         0600);
  edge::test::Process keyd(
      {edge::test::bin("aziot-keyd")},
      {{"AZIOT_KEYD_CONFIG", t.dir / "keyd.toml"}, {"AZIOT_KEYD_CONFIG_DIR", t.dir / "keyd.d"}},
      t.dir / "keyd.log");
  REQUIRE(edge::test::wait_for_socket(keyd_socket));
  edge::http::UnixClient kc(keyd_socket);
  auto created = edge::test::call(kc, "POST", "/key?api-version=2021-05-01",
                                  Json{{"keyId", "k"}, {"usage", "sign"}});
  INFO(created.body);
  REQUIRE(created.status == 200);
  std::string handle = created.json["keyHandle"];
  auto sign = [&](edge::http::UnixClient& c) {
    return edge::test::call(c, "POST", "/sign?api-version=2021-05-01",
                            Json{{"keyHandle", handle},
                                 {"algorithm", "HMAC-SHA256"},
                                 {"parameters", {{"message", b64("m")}}}});
  };
  std::string expected = unb64(sign(kc).json["signature"]);

  int tpmd_ok = 0, keyd_ok = 0;
  std::thread a([&] {
    edge::http::UnixClient c(t.socket);
    for (int i = 0; i < 15; ++i) {
      auto r = edge::test::call(c, "POST", api("/sign_with_auth_key"), Json{{"data", b64("d")}});
      if (r.status == 200 && unb64(r.json["digest"]) == *edge::crypto::hmac_sha256(auth_key, "d"))
        ++tpmd_ok;
    }
  });
  std::thread b([&] {
    edge::http::UnixClient c(keyd_socket);
    for (int i = 0; i < 15; ++i) {
      auto r = sign(c);
      if (r.status == 200 && unb64(r.json["signature"]) == expected) ++keyd_ok;
    }
  });
  a.join();
  b.join();
  CHECK(tpmd_ok == 15);
  CHECK(keyd_ok == 15);
  std::string out;
  REQUIRE(t.swtpm.tools("tpm2_getcap handles-transient", &out) == 0);
  CHECK(out.find("0x80") == std::string::npos);
}
