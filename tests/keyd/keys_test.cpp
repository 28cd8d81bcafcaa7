// aziot-keyd driven over its socket, on the filesystem and SoftHSM backends, for every key
// type upstream's CI covers. Signatures are checked with OpenSSL against public keys rebuilt
// from /parameters.
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/keyd/fixture.h"

using namespace keyd_test;
using edge::http::Json;

namespace {
std::string backend_name(Backend b) { return b == Backend::Files ? "files" : "softhsm"; }

bool ecdsa_verifies(EVP_PKEY* key, const std::string& digest, const std::string& der) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  bool ok = EVP_PKEY_verify_init(ctx) > 0 &&
            EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                            reinterpret_cast<const unsigned char*>(digest.data()), digest.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

bool rsa_sha256_verifies(EVP_PKEY* key, const std::string& message, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// DER DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1).
const std::string kSha256DigestInfo("\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20", 19);
}  // namespace

TEST_CASE("key pairs are created used moved and deleted", "[integration][hsm]") {
  auto backend = GENERATE(Backend::Files, Backend::SoftHsm);
  auto algorithm = GENERATE(std::string("ec-p256"), std::string("rsa-2048"), std::string("rsa-4096"));
  SECTION(backend_name(backend) + " " + algorithm) {
    Keyd keyd(backend);
    std::string handle = keyd.create_key_pair("kp", algorithm);
    // create-if-not-exists: the same key, a different handle string
    std::string again = keyd.create_key_pair("kp", "*");
    CHECK(again != handle);
    auto got = keyd.call("GET", api("/keypair/kp"));
    REQUIRE(got.status == 200);

    auto pub = keyd.public_key(handle);
    CHECK(EVP_PKEY_get_bits(pub.get()) == (algorithm == "ec-p256" ? 256 : algorithm == "rsa-2048" ? 2048 : 4096));
    std::string message = "message to sign";
    std::string digest = sha256(message);
    bool ec = algorithm == "ec-p256";
    auto sign = [&](const std::string& h) {
      if (ec)
        return keyd.call("POST", api("/sign"),
                         Json{{"keyHandle", h}, {"algorithm", "ECDSA"}, {"parameters", {{"digest", b64(digest)}}}});
      return keyd.call("POST", api("/encrypt"),
                       Json{{"keyHandle", h}, {"algorithm", "RSA-PKCS1"}, {"plaintext", b64(kSha256DigestInfo + digest)}});
    };
    auto verify = [&](const edge::test::Reply& r) {
      INFO(r.body);
      REQUIRE(r.status == 200);
      auto sig = unb64(r.json[ec ? "signature" : "ciphertext"]);
      return ec ? ecdsa_verifies(pub.get(), digest, sig) : rsa_sha256_verifies(pub.get(), message, sig);
    };
    CHECK(verify(sign(handle)));
    CHECK(verify(sign(again)));

    if (ec) {
      auto r = keyd.call("POST", api("/encrypt"), Json{{"keyHandle", handle}, {"algorithm", "RSA-PKCS1"}, {"plaintext", b64("x")}});
      CHECK(r.status == 400);
      CHECK(keyd.call("POST", api("/parameters/rsa-modulus"), Json{{"keyHandle", handle}}).status == 400);
    } else {
      auto r = keyd.call("POST", api("/sign"), Json{{"keyHandle", handle}, {"algorithm", "ECDSA"}, {"parameters", {{"digest", b64(digest)}}}});
      CHECK(r.status == 400);
      // RSA-NO-PADDING: the raw private-key operation, undone with the public key.
      size_t size = static_cast<size_t>(EVP_PKEY_get_size(pub.get()));
      std::string block(size, '\x11');
      block[0] = 0;
      r = keyd.call("POST", api("/encrypt"), Json{{"keyHandle", handle}, {"algorithm", "RSA-NO-PADDING"}, {"plaintext", b64(block)}});
      REQUIRE(r.status == 200);
      std::string sig = unb64(r.json["ciphertext"]);
      EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(pub.get(), nullptr);
      std::string recovered(size, '\0');
      size_t len = size;
      REQUIRE(EVP_PKEY_verify_recover_init(ctx) > 0);
      REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0);
      REQUIRE(EVP_PKEY_verify_recover(ctx, reinterpret_cast<unsigned char*>(recovered.data()), &len,
                                      reinterpret_cast<const unsigned char*>(sig.data()), sig.size()) > 0);
      EVP_PKEY_CTX_free(ctx);
      CHECK(recovered.substr(size - len) == block.substr(size - len));
      r = keyd.call("POST", api("/encrypt"), Json{{"keyHandle", handle}, {"algorithm", "RSA-NO-PADDING"}, {"plaintext", b64("short")}});
      CHECK(r.status == 400);
    }

    // Where the key lives: a 0600 file, or only inside the token.
    auto files = keyd.key_files();
    bool has_file = std::any_of(files.begin(), files.end(), [](auto& f) { return f.starts_with("kp-"); });
    CHECK(has_file == (backend == Backend::Files));
    if (has_file) {
      struct stat st {};
      ::stat((keyd.dir / ("home/keys/" + files[0])).c_str(), &st);
      for (auto& f : files) {
        ::stat((keyd.dir / ("home/keys/" + f)).c_str(), &st);
        CHECK((st.st_mode & 0777) == 0600);
      }
    }

    // Handles and keys survive a restart.
    keyd.restart();
    CHECK(verify(sign(handle)));

    // Move kp -> kp2: the old id is gone, the key pair answers under the new one.
    auto moved = keyd.call("POST", api("/keypair/kp2"), Json{{"from", "kp"}});
    INFO(moved.body);
    REQUIRE(moved.status == 204);
    CHECK(keyd.call("GET", api("/keypair/kp")).status == 400);
    auto h2 = keyd.call("GET", api("/keypair/kp2"));
    REQUIRE(h2.status == 200);
    CHECK(verify(sign(h2.json["keyHandle"])));
    CHECK(sign(handle).status == 400);
    CHECK(keyd.call("POST", api("/keypair/kp2"), Json{{"from", "kp2"}}).json["message"] ==
          "source and destination for move are identical");

    auto del = keyd.call("DELETE", api("/keypair"), Json{{"keyHandle", h2.json["keyHandle"]}});
    CHECK(del.status == 204);
    CHECK(keyd.call("GET", api("/keypair/kp2")).status == 400);
  }
}

TEST_CASE("symmetric keys sign derive export encrypt and import", "[integration][hsm]") {
  auto backend = GENERATE(Backend::Files, Backend::SoftHsm);
  SECTION(backend_name(backend)) {
    Keyd keyd(backend);
    std::string master = keyd.create_key("master", "derive,sign");
    CHECK(keyd.call("GET", api("/key/master")).status == 200);
    CHECK(keyd.call("GET", api("/key/absent")).status == 400);

    // Derived key = HMAC-SHA256(master, data): export it and check /sign against OpenSSL.
    auto d = keyd.call("POST", api("/derivedkey"), Json{{"baseKeyHandle", master}, {"derivationData", b64("mod1:123:primary")}});
    REQUIRE(d.status == 200);
    std::string derived = d.json["keyHandle"];
    auto exported = keyd.call("POST", api("/derivedkey/export"), Json{{"keyHandle", derived}});
    REQUIRE(exported.status == 200);
    std::string derived_bytes = unb64(exported.json["key"]);
    REQUIRE(derived_bytes.size() == 32);
    auto sig = keyd.call("POST", api("/sign"), Json{{"keyHandle", derived}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("hello")}}}});
    REQUIRE(sig.status == 200);
    CHECK(unb64(sig.json["signature"]) == *edge::crypto::hmac_sha256(derived_bytes, "hello"));
    auto master_sig = keyd.call("POST", api("/sign"), Json{{"keyHandle", master}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("mod1:123:primary")}}}});
    REQUIRE(master_sig.status == 200);
    CHECK(unb64(master_sig.json["signature"]) == derived_bytes);
    if (backend == Backend::Files) {
      auto files = keyd.key_files();
      auto it = std::find_if(files.begin(), files.end(), [](auto& f) { return f.starts_with("master-"); });
      REQUIRE(it != files.end());
      std::string raw = edge::test::read_file(keyd.dir / ("home/keys/" + *it));
      CHECK(raw.size() == 32);
      CHECK(*edge::crypto::hmac_sha256(raw, "mod1:123:primary") == derived_bytes);
    }
    auto nested = keyd.call("POST", api("/derivedkey"), Json{{"baseKeyHandle", derived}, {"derivationData", b64("x")}});
    CHECK(nested.status == 400);
    CHECK_THAT(nested.json["message"].get<std::string>(), Catch::Contains("nested derived keys are not supported"));
    CHECK(keyd.call("POST", api("/derivedkey/export"), Json{{"keyHandle", master}}).status == 400);

    // AEAD: 0x02 || ct || tag; tampering, a wrong iv or aad are refused.
    std::string enc = keyd.create_key("enc", "encrypt");
    Json params{{"iv", b64("0123456789ab")}, {"aad", b64("module-1")}};
    auto e = keyd.call("POST", api("/encrypt"), Json{{"keyHandle", enc}, {"algorithm", "AEAD"}, {"parameters", params}, {"plaintext", b64("secret payload")}});
    INFO(e.body);
    REQUIRE(e.status == 200);
    std::string ct = unb64(e.json["ciphertext"]);
    CHECK(ct[0] == '\x02');
    CHECK(ct.size() == 1 + 14 + 16);
    auto dec = keyd.call("POST", api("/decrypt"), Json{{"keyHandle", enc}, {"algorithm", "AEAD"}, {"parameters", params}, {"ciphertext", b64(ct)}});
    REQUIRE(dec.status == 200);
    CHECK(unb64(dec.json["plaintext"]) == "secret payload");
    std::string tampered = ct;
    tampered[3] ^= 1;
    CHECK(keyd.call("POST", api("/decrypt"), Json{{"keyHandle", enc}, {"algorithm", "AEAD"}, {"parameters", params}, {"ciphertext", b64(tampered)}}).status == 400);
    Json wrong_aad{{"iv", b64("0123456789ab")}, {"aad", b64("module-2")}};
    CHECK(keyd.call("POST", api("/decrypt"), Json{{"keyHandle", enc}, {"algorithm", "AEAD"}, {"parameters", wrong_aad}, {"ciphertext", b64(ct)}}).status == 400);
    CHECK(keyd.call("POST", api("/decrypt"), Json{{"keyHandle", enc}, {"algorithm", "RSA-PKCS1"}, {"ciphertext", b64(ct)}}).status == 400);
    // Legacy format 0x01 || tag || ct is still readable.
    std::string legacy = "\x01" + ct.substr(ct.size() - 16) + ct.substr(1, ct.size() - 17);
    auto dl = keyd.call("POST", api("/decrypt"), Json{{"keyHandle", enc}, {"algorithm", "AEAD"}, {"parameters", params}, {"ciphertext", b64(legacy)}});
    CHECK(dl.status == 200);
    // Derived keys do AEAD too (edged encrypts with them).
    CHECK(keyd.call("POST", api("/encrypt"), Json{{"keyHandle", derived}, {"algorithm", "AEAD"}, {"parameters", params}, {"plaintext", b64("p")}}).status == 200);

    // Import overwrites and signs with exactly the given bytes.
    std::string bytes(32, '\x42');
    auto imp = keyd.call("POST", api("/key"), Json{{"keyId", "imported"}, {"usage", "sign"}, {"keyBytes", b64(bytes)}});
    REQUIRE(imp.status == 200);
    auto is = keyd.call("POST", api("/sign"), Json{{"keyHandle", imp.json["keyHandle"]}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("m")}}}});
    REQUIRE(is.status == 200);
    CHECK(unb64(is.json["signature"]) == *edge::crypto::hmac_sha256(bytes, "m"));

    keyd.restart();
    CHECK(keyd.call("POST", api("/sign"), Json{{"keyHandle", derived}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("hello")}}}}).json["signature"] == sig.json["signature"]);

    CHECK(keyd.call("DELETE", api("/key"), Json{{"keyHandle", imp.json["keyHandle"]}}).status == 204);
    CHECK(keyd.call("GET", api("/key/imported")).status == 400);
    CHECK(keyd.call("DELETE", api("/key"), Json{{"keyHandle", master}}).status == 204);
    CHECK(keyd.call("POST", api("/sign"), Json{{"keyHandle", derived}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("hello")}}}}).status == 400);
  }
}

TEST_CASE("both api-versions serve the same routes", "[integration]") {
  Keyd keyd(Backend::Files);
  auto r = keyd.call("POST", "/keypair?api-version=2020-09-01", Json{{"keyId", "old"}});
  CHECK(r.status == 200);
  r = keyd.call("GET", "/keypair/old?api-version=2021-05-01");
  CHECK(r.status == 200);
  CHECK(keyd.call("GET", "/keypair/old").json["message"] == "api-version not specified");
  CHECK(keyd.call("GET", "/keypair/old?api-version=2022-01-01").json["message"] == "invalid api-version \"2022-01-01\"");
}
