// aziot-tpmd against a private swtpm: routes, the DPS import blob, restarts, bad input.
#include <tss2/tss2_mu.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "common/tpm/dps_blob.h"
#include "tests/tpmd/fixture.h"
#include "tpmd/config.h"
#include "tpmd/esys.h"

using edge::http::Json;
using namespace tpmd_test;

namespace {

TPMT_PUBLIC parse_public(const std::string& bytes) {
  size_t off = 0;
  auto pub = tpm::unmarshal_public(bytes, &off);
  REQUIRE(pub);
  REQUIRE(off == bytes.size());
  return pub->publicArea;
}

struct Keys {
  std::string ek, srk;
};
Keys keys_of(Tpmd& t) {
  auto r = t.get_keys();
  INFO(r.body);
  REQUIRE(r.status == 200);
  return {unb64(r.json["endorsement_key"]), unb64(r.json["storage_root_key"])};
}

std::string blob_for(Tpmd& t, const std::string& key) {
  auto k = keys_of(t);
  auto blob = tpm::dps::make_auth_key_blob(k.ek, k.srk, edge::Secret(key));
  REQUIRE(blob);
  return *blob;
}

std::string hmac(const std::string& key, const std::string& data) {
  return edge::crypto::hmac_sha256(key, data).value();
}

// Is something persisted at `handle`? Asked through tpm2-tools.
bool persisted(const Tpmd& t, uint32_t handle) {
  std::string out;
  REQUIRE(t.swtpm.tools("tpm2_getcap handles-persistent", &out) == 0);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", handle);
  return out.find(buf) != std::string::npos;
}

}  // namespace

TEST_CASE("tpmd get_tpm_keys returns the EK and SRK persisted at 0x81010001 and 0x81000001") {
  Tpmd t;
  auto k = keys_of(t);
  auto ek = parse_public(k.ek);
  auto srk = parse_public(k.srk);
  CHECK(ek.type == TPM2_ALG_RSA);
  CHECK(ek.parameters.rsaDetail.keyBits == 2048);
  CHECK(ek.unique.rsa.size == 256);
  CHECK((ek.objectAttributes & TPMA_OBJECT_RESTRICTED));
  CHECK((ek.objectAttributes & TPMA_OBJECT_ADMINWITHPOLICY));
  CHECK(ek.authPolicy.size == 32);
  CHECK(srk.type == TPM2_ALG_RSA);
  CHECK((srk.objectAttributes & TPMA_OBJECT_USERWITHAUTH));
  CHECK(k.ek != k.srk);
  CHECK(persisted(t, 0x81010001));
  CHECK(persisted(t, 0x81000001));

  // The EK is the TPM's own (what tpm2_readpublic reports for the persistent handle).
  std::string pem = t.dir / "ek.pem";
  REQUIRE(t.swtpm.tools("tpm2_readpublic -c 0x81010001 -f pem -o " + pem) == 0);
  auto ours = tpm::dps::to_pkey(ek);
  REQUIRE(ours);
  auto our_pem = edge::crypto::public_key_to_pem(ours->get());
  REQUIRE(our_pem);
  CHECK(edge::test::read_file(pem) == *our_pem);

  SECTION("the same keys after restarts of tpmd and of swtpm") {
    t.restart();
    auto again = keys_of(t);
    CHECK(again.ek == k.ek);
    CHECK(again.srk == k.srk);
    t.stop();
    t.swtpm.restart();
    t.start();
    auto third = keys_of(t);
    CHECK(third.ek == k.ek);
    CHECK(third.srk == k.srk);
  }
}

TEST_CASE("tpmd api-version rules") {
  Tpmd t;
  CHECK(t.call("GET", "/get_tpm_keys").status == 400);
  CHECK(t.call("GET", "/get_tpm_keys?api-version=2021-05-01").status == 400);
  CHECK(t.call("GET", api("/nope")).status == 404);
  CHECK(t.call("POST", api("/get_tpm_keys"), Json::object()).status == 400);
}

TEST_CASE("tpmd imports a DPS-style auth key blob and signs with it") {
  Tpmd t;
  const std::string key = edge::crypto::random_bytes(32).value();
  auto r = t.import(blob_for(t, key));
  INFO(r.body << "\n" << t.log());
  REQUIRE(r.status == 200);
  CHECK(r.json == Json::object());
  CHECK(persisted(t, 0x81000100));

  const std::string data = "myscope/registrations/my-device\n1700000000";
  auto s = t.sign(data);
  REQUIRE(s.status == 200);
  CHECK(unb64(s.json["digest"]) == hmac(key, data));

  // Longer than the TPM's 1024-byte buffer: HMAC sequence.
  std::string big(5000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  auto b = t.sign(big);
  REQUIRE(b.status == 200);
  CHECK(unb64(b.json["digest"]) == hmac(key, big));
  auto e = t.sign("");
  REQUIRE(e.status == 200);
  CHECK(unb64(e.json["digest"]) == hmac(key, ""));

  SECTION("a second import replaces the key") {
    const std::string key2 = "a different key of some length";
    REQUIRE(t.import(blob_for(t, key2)).status == 200);
    CHECK(unb64(t.sign(data).json["digest"]) == hmac(key2, data));
  }
  SECTION("the key survives restarts of tpmd and of swtpm") {
    t.restart();
    CHECK(unb64(t.sign(data).json["digest"]) == hmac(key, data));
    t.stop();
    t.swtpm.restart();
    t.start();
    CHECK(unb64(t.sign(data).json["digest"]) == hmac(key, data));
  }
}

TEST_CASE("tpmd auth_key_index selects the persistent handle") {
  Tpmd t("auth_key_index = 0x7FFFFF\n");
  const std::string key = "index test key";
  REQUIRE(t.import(blob_for(t, key)).status == 200);
  CHECK(persisted(t, 0x817FFFFF));
  CHECK_FALSE(persisted(t, 0x81000100));
  CHECK(unb64(t.sign("abc").json["digest"]) == hmac(key, "abc"));
}

TEST_CASE("tpmd rejects bad import blobs and keeps serving") {
  Tpmd t;
  const std::string key = "the dps key";
  auto good = blob_for(t, key);

  SECTION("signing before any import") {
    auto r = t.sign("abc");
    CHECK(r.status == 400);
    CHECK(r.json["message"].get<std::string>().find("no auth key") != std::string::npos);
  }
  SECTION("schema errors") {
    CHECK(t.call("POST", api("/import_auth_key")).status == 400);
    CHECK(t.call("POST", api("/import_auth_key"), Json{{"key", "not base64!"}}).status == 422);
    CHECK(t.call("POST", api("/import_auth_key"), Json{{"key", 5}}).status == 422);
    CHECK(t.call("POST", api("/sign_with_auth_key"), Json{{"data", "***"}}).status == 422);
    CHECK(t.import("").status == 400);
  }
  SECTION("truncated, trailing bytes, oversized") {
    auto r = t.import(good.substr(0, good.size() / 2));
    CHECK(r.status == 400);
    CHECK(r.json["message"].get<std::string>().find("malformed") != std::string::npos);
    r = t.import(good + "x");
    CHECK(r.status == 400);
    CHECK(r.json["message"].get<std::string>().find("trailing") != std::string::npos);
    // After DPS's TPM2B_DATA nothing more may follow, and it must be whole.
    CHECK(t.import(good + std::string(2, '\0') + "x").status == 400);
    CHECK(t.import(good + std::string("\0\x05uri", 5)).status == 400);
    CHECK(t.import(std::string(9000, 'a')).status == 400);
  }
  SECTION("the TPM2B_DATA DPS appends after the public area is accepted") {
    REQUIRE(t.import(good + std::string("\0\x03uri", 5)).status == 200);
    CHECK(unb64(t.sign("uri").json["digest"]) == hmac(key, "uri"));
  }
  SECTION("corrupted bytes in each part are refused by the TPM") {
    // Offsets: inside the credential, the secret, the duplicate, the seed.
    for (size_t at : {size_t{10}, size_t{100}, size_t{400}, size_t{600}}) {
      std::string bad = good;
      bad[at] = static_cast<char>(bad[at] ^ 0x5A);
      auto r = t.import(bad);
      INFO("offset " << at << ": " << r.body);
      CHECK((r.status == 400 || r.status == 500));
      CHECK(r.status != 200);
    }
  }
  SECTION("a blob made for another TPM") {
    Tpmd other;
    auto r = t.import(blob_for(other, key));
    INFO(r.body);
    CHECK(r.status == 400);
    CHECK(r.json["message"].get<std::string>().find("TPM rejected") != std::string::npos);
  }
  // Still serving, and a good blob still works.
  REQUIRE(t.import(good).status == 200);
  CHECK(unb64(t.sign("ok").json["digest"]) == hmac(key, "ok"));
  // No transient objects or sessions left behind in the TPM.
  std::string out;
  REQUIRE(t.swtpm.tools("tpm2_getcap handles-transient", &out) == 0);
  CHECK(out.find("0x80") == std::string::npos);
  REQUIRE(t.swtpm.tools("tpm2_getcap handles-loaded-session", &out) == 0);
  CHECK(out.find("0x02") == std::string::npos);
  REQUIRE(t.swtpm.tools("tpm2_getcap handles-saved-session", &out) == 0);
  CHECK(out.find("0x03") == std::string::npos);
}

TEST_CASE("tpmd with a stopped or absent TPM") {
  Tpmd t;
  const std::string key = "k";
  REQUIRE(t.import(blob_for(t, key)).status == 200);
  t.swtpm.stop();
  auto r = t.get_keys();
  CHECK(r.status == 503);
  CHECK(r.json["message"].get<std::string>().find("not reachable") != std::string::npos);
  CHECK(t.sign("abc").status == 503);
  t.swtpm.start();
  CHECK(t.get_keys().status == 200);
  CHECK(unb64(t.sign("abc").json["digest"]) == hmac(key, "abc"));

  // tpmd refuses to start without a TPM.
  t.stop();
  t.swtpm.stop();
  CHECK(t.start_fails() != 0);
  CHECK(t.log().find("not reachable") != std::string::npos);
}

TEST_CASE("tpmd hierarchy authorization") {
  Tpmd t("", false);
  REQUIRE(t.swtpm.tools("tpm2_changeauth -c o owner-secret") == 0);
  REQUIRE(t.swtpm.tools("tpm2_changeauth -c e endorsement-secret") == 0);

  SECTION("missing owner and endorsement auth: startup fails with a clear error") {
    CHECK(t.start_fails() == 1);
    CHECK(t.log().find("wrong authorization value") != std::string::npos);
  }
  SECTION("wrong owner auth") {
    t.write_config(
        "[hierarchy_authorization]\nendorsement = \"endorsement-secret\"\nowner = \"nope\"\n");
    CHECK(t.start_fails() == 1);
    CHECK(t.log().find("wrong authorization value") != std::string::npos);
  }
  SECTION("right auth values: keys are created and the import works") {
    t.write_config(
        "[hierarchy_authorization]\nendorsement = \"endorsement-secret\"\nowner = "
        "\"owner-secret\"\n");
    t.start();
    REQUIRE(t.import(blob_for(t, "key")).status == 200);
    CHECK(unb64(t.sign("x").json["digest"]) == hmac("key", "x"));
    // Upstream's newer spelling works too.
    t.stop();
    t.write_config(
        "[tpm_auth]\nendorsement = \"endorsement-secret\"\nstorage = \"owner-secret\"\n");
    t.start();
    REQUIRE(t.import(blob_for(t, "key2")).status == 200);
    // The passwords are not in the log.
    CHECK(t.log().find("owner-secret") == std::string::npos);

    SECTION("wrong endorsement auth fails the import (500), the daemon keeps serving") {
      t.stop();
      t.write_config(
          "[hierarchy_authorization]\nendorsement = \"wrong\"\nowner = \"owner-secret\"\n");
      t.start();
      auto r = t.import(blob_for(t, "key3"));
      CHECK(r.status == 500);
      CHECK(t.log().find("wrong authorization value") != std::string::npos);
      CHECK(unb64(t.sign("x").json["digest"]) == hmac("key2", "x"));
    }
  }
}

TEST_CASE("tpmd config parsing") {
  auto c = tpmd::parse_config("", "t.toml");
  REQUIRE(c);
  CHECK(c->tcti == "device");
  CHECK(c->auth_key_index == 0x100);
  CHECK(c->endpoint == "unix:///run/aziot/tpmd.sock");
  c = tpmd::parse_config(
      "tcti = \"swtpm:port=2321\"\nauth_key_index = 0x00_02_00\nmax_requests = 3\n"
      "[hierarchy_authorization]\nendorsement = \"e\"\nowner = \"o\"\n",
      "t.toml");
  REQUIRE(c);
  CHECK(c->tcti == "swtpm:port=2321");
  CHECK(c->auth_key_index == 0x200);
  CHECK(c->max_requests == 3);
  CHECK(c->auth.endorsement.view() == "e");
  CHECK(c->auth.owner.view() == "o");

  auto bad = tpmd::parse_config("auth_key_index = 0x800000\n", "t.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("0x7F_FF_FF") != std::string::npos);
  CHECK(bad.error().message.find("t.toml:1") != std::string::npos);
  CHECK_FALSE(tpmd::parse_config("auth_key_index = -1\n", "t.toml"));
  CHECK_FALSE(tpmd::parse_config("auth_key_index = \"0x100\"\n", "t.toml"));
  CHECK_FALSE(tpmd::parse_config("bogus = 1\n", "t.toml"));
  CHECK_FALSE(tpmd::parse_config("[hierarchy_authorization]\nstorage = \"x\"\n", "t.toml"));
}

TEST_CASE("tpmd refuses an out-of-range auth_key_index at startup") {
  Tpmd t("auth_key_index = 0x1000000\n", false);
  CHECK(t.start_fails() == 153);
  CHECK(t.log().find("0x7F_FF_FF") != std::string::npos);
}

TEST_CASE("tpmd with a busy TPM answers 503 instead of hanging") {
  Tpmd t("", false);
  t.env["AZIOT_TPMD_TPM_TIMEOUT_MS"] = "1500";
  t.start();
  const std::string key = "busy key";
  REQUIRE(t.import(blob_for(t, key)).status == 200);

  // swtpm serves one connection at a time: hold it from here.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(t.swtpm.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto start = std::chrono::steady_clock::now();
  auto r = t.sign("abc");
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == 503);
  CHECK_THAT(r.json["message"].get<std::string>(), Catch::Contains("busy"));
  CHECK(took < std::chrono::seconds(5));
  CHECK(t.get_keys().status == 503);
  ::close(fd);

  // Once the TPM is free again, requests succeed.
  edge::test::Reply ok;
  for (int i = 0; i < 40; ++i) {
    ok = t.sign("abc");
    if (ok.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  REQUIRE(ok.status == 200);
  CHECK(unb64(ok.json["digest"]) == hmac(key, "abc"));
}
