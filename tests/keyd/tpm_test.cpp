// aziot-keyd with the TPM backend ([aziot_keys] tpm_tcti) against a private swtpm: key pairs
// and HMAC keys made inside the TPM, stored as TPM-wrapped blobs; signatures checked with
// OpenSSL; restarts; corrupted blobs; a stopped TPM; no key material on disk in the clear.
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/fs.h"
#include "keyd/config.h"
#include "tests/keyd/fixture.h"
#include "tests/tpmd/swtpm.h"

using namespace keyd_test;
using edge::http::Json;

namespace {

const std::string kSha256DigestInfo(
    "\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20", 19);

struct TpmKeyd {
  edge::test::TempDir tpmdir;
  tpm_test::Swtpm swtpm{tpmdir / "state"};
  Keyd keyd{Backend::Files, "tpm_tcti = \"" + swtpm.tcti() + "\"\n"};
};

bool ecdsa_verifies(EVP_PKEY* key, const std::string& digest, const std::string& der) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  bool ok =
      EVP_PKEY_verify_init(ctx) > 0 &&
      EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                      reinterpret_cast<const unsigned char*>(digest.data()), digest.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

bool rsa_sha256_verifies(EVP_PKEY* key, const std::string& message, const std::string& sig) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

edge::test::Reply ecdsa(Keyd& k, const std::string& handle, const std::string& digest) {
  return k.call("POST", api("/sign"),
                Json{{"keyHandle", handle},
                     {"algorithm", "ECDSA"},
                     {"parameters", {{"digest", b64(digest)}}}});
}
edge::test::Reply hmac_sign(Keyd& k, const std::string& handle, const std::string& message) {
  return k.call("POST", api("/sign"),
                Json{{"keyHandle", handle},
                     {"algorithm", "HMAC-SHA256"},
                     {"parameters", {{"message", b64(message)}}}});
}
std::string file_for(Keyd& k, const std::string& prefix) {
  for (const auto& f : k.key_files())
    if (f.starts_with(prefix + "-")) return k.dir / ("home/keys/" + f);
  return "";
}
// Every file under keyd's home, concatenated (to look for key bytes in the clear).
std::string all_files(Keyd& k) {
  std::string out;
  for (const auto& f : k.key_files()) out += edge::test::read_file(k.dir / ("home/keys/" + f));
  return out;
}

}  // namespace

TEST_CASE("keyd TPM backend: EC P-256 and RSA-2048 key pairs made in the TPM verify with OpenSSL",
          "[tpm]") {
  TpmKeyd t;
  auto& k = t.keyd;
  std::string ec = k.create_key_pair("ec1", "ec-p256");
  std::string rsa = k.create_key_pair("rsa1", "rsa-2048");

  auto ec_pub = k.public_key(ec);
  CHECK(EVP_PKEY_get_bits(ec_pub.get()) == 256);
  std::string digest = sha256("message to sign");
  auto r = ecdsa(k, ec, digest);
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(ecdsa_verifies(ec_pub.get(), digest, unb64(r.json["signature"])));

  auto rsa_pub = k.public_key(rsa);
  CHECK(EVP_PKEY_get_bits(rsa_pub.get()) == 2048);
  auto e = k.call("POST", api("/encrypt"),
                  Json{{"keyHandle", rsa},
                       {"algorithm", "RSA-PKCS1"},
                       {"plaintext", b64(kSha256DigestInfo + digest)}});
  INFO(e.body);
  REQUIRE(e.status == 200);
  CHECK(rsa_sha256_verifies(rsa_pub.get(), "message to sign", unb64(e.json["ciphertext"])));

  // RSA-NO-PADDING: the raw private-key operation, undone with the public key.
  std::string block(256, '\x11');
  block[0] = 0;
  auto raw =
      k.call("POST", api("/encrypt"),
             Json{{"keyHandle", rsa}, {"algorithm", "RSA-NO-PADDING"}, {"plaintext", b64(block)}});
  REQUIRE(raw.status == 200);
  std::string sig = unb64(raw.json["ciphertext"]);
  REQUIRE(sig.size() == 256);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(rsa_pub.get(), nullptr);
  std::string back(256, '\0');
  size_t len = back.size();
  REQUIRE(EVP_PKEY_encrypt_init(ctx) > 0);
  REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0);
  REQUIRE(EVP_PKEY_encrypt(ctx, reinterpret_cast<unsigned char*>(back.data()), &len,
                           reinterpret_cast<const unsigned char*>(sig.data()), sig.size()) > 0);
  EVP_PKEY_CTX_free(ctx);
  CHECK(back == block);

  // RSA-4096 (which swtpm may lack) falls through to the next preference when the TPM refuses it.
  auto big = k.call("POST", api("/keypair"),
                    Json{{"keyId", "big"}, {"preferredAlgorithms", "rsa-4096:ec-p256"}});
  INFO(big.body);
  CHECK(big.status == 200);

  // Wrong mechanisms are refused as with other backends.
  CHECK(ecdsa(k, rsa, digest).status == 400);
  CHECK(k.call("POST", api("/encrypt"),
               Json{{"keyHandle", ec}, {"algorithm", "RSA-PKCS1"}, {"plaintext", b64("x")}})
            .status == 400);

  // Stored as TPM blobs (mode 0600), no PEM private keys on disk.
  for (const char* id : {"ec1", "rsa1"}) {
    auto path = file_for(k, id);
    INFO(id);
    REQUIRE(path.ends_with(".tpmkey"));
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(edge::test::read_file(path).starts_with("AZTPMKEY"));
  }
  CHECK(all_files(k).find("PRIVATE KEY") == std::string::npos);

  // Move and delete work on blobs.
  REQUIRE(k.call("POST", api("/keypair/ec2"), Json{{"from", "ec1"}}).status == 204);
  CHECK(k.call("GET", api("/keypair/ec1")).status == 400);
  std::string ec2 = k.call("GET", api("/keypair/ec2")).json["keyHandle"];
  REQUIRE(ecdsa(k, ec2, digest).status == 200);
  CHECK(k.call("DELETE", api("/keypair"), Json{{"keyHandle", ec2}}).status == 204);
  CHECK(k.call("GET", api("/keypair/ec2")).status == 400);

  // No transient objects are left in the TPM (no resource manager flushes them for us).
  std::string out;
  REQUIRE(t.swtpm.tools("tpm2_getcap handles-transient", &out) == 0);
  CHECK(out.find("0x80") == std::string::npos);
}

TEST_CASE("keyd TPM backend: HMAC keys made or imported in the TPM match OpenSSL", "[tpm]") {
  TpmKeyd t;
  auto& k = t.keyd;
  std::string master = k.create_key("master", "derive,sign");
  auto a = hmac_sign(k, master, "hello");
  REQUIRE(a.status == 200);
  CHECK(unb64(a.json["signature"]).size() == 32);
  CHECK(unb64(hmac_sign(k, master, "hello").json["signature"]) == unb64(a.json["signature"]));
  REQUIRE(file_for(k, "master").ends_with(".tpmkey"));

  // Derived key = HMAC(master, data), computed by the TPM.
  auto d = k.call("POST", api("/derivedkey"),
                  Json{{"baseKeyHandle", master}, {"derivationData", b64("mod1:1:primary")}});
  REQUIRE(d.status == 200);
  auto exported =
      k.call("POST", api("/derivedkey/export"), Json{{"keyHandle", d.json["keyHandle"]}});
  REQUIRE(exported.status == 200);
  CHECK(unb64(exported.json["key"]) ==
        unb64(hmac_sign(k, master, "mod1:1:primary").json["signature"]));

  // Imported keys (short, and longer than the HMAC block) give OpenSSL's HMAC.
  for (size_t n : {size_t{32}, size_t{64}, size_t{100}}) {
    std::string bytes = edge::crypto::random_bytes(n).value();
    std::string id = "imp" + std::to_string(n);
    auto r = k.call("POST", api("/key"),
                    Json{{"keyId", id}, {"keyBytes", b64(bytes)}, {"usage", "sign"}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    std::string big(3000, 'm');
    CHECK(unb64(hmac_sign(k, r.json["keyHandle"], "msg").json["signature"]) ==
          *edge::crypto::hmac_sha256(bytes, "msg"));
    CHECK(unb64(hmac_sign(k, r.json["keyHandle"], big).json["signature"]) ==
          *edge::crypto::hmac_sha256(bytes, big));
    // The key bytes are nowhere on disk in the clear.
    CHECK(all_files(k).find(bytes) == std::string::npos);
    CHECK(file_for(k, id).ends_with(".tpmkey"));
  }

  // AEAD keys cannot live in the TPM: they fall back to a file, as upstream for tokens without GCM.
  std::string enc = k.create_key("enc", "encrypt");
  CHECK(file_for(k, "enc").ends_with(".key"));
  auto c = k.call("POST", api("/encrypt"),
                  Json{{"keyHandle", enc},
                       {"algorithm", "AEAD"},
                       {"parameters", {{"iv", b64("0123456789ab")}, {"aad", b64("")}}},
                       {"plaintext", b64("secret")}});
  REQUIRE(c.status == 200);
  // AEAD on a TPM HMAC key is a clear 400.
  auto bad = k.call("POST", api("/encrypt"),
                    Json{{"keyHandle", master},
                         {"algorithm", "AEAD"},
                         {"parameters", {{"iv", b64("0123456789ab")}, {"aad", b64("")}}},
                         {"plaintext", b64("x")}});
  CHECK(bad.status == 400);
  // The handle-validation key is in the TPM too.
  CHECK(file_for(k, "handlevalidationkey").ends_with(".tpmkey"));
}

TEST_CASE("keyd TPM keys survive restarts of keyd and of swtpm", "[tpm]") {
  TpmKeyd t;
  auto& k = t.keyd;
  std::string ec = k.create_key_pair("ec1", "ec-p256");
  std::string hk = k.create_key("hk", "sign");
  std::string mac = unb64(hmac_sign(k, hk, "x").json["signature"]);
  auto pub = k.public_key(ec);

  k.restart();
  t.swtpm.restart();
  std::string digest = sha256("after restart");
  auto r = ecdsa(k, ec, digest);  // old handles stay valid
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(ecdsa_verifies(pub.get(), digest, unb64(r.json["signature"])));
  CHECK(unb64(hmac_sign(k, hk, "x").json["signature"]) == mac);
}

TEST_CASE("keyd TPM backend: corrupted blobs and a stopped TPM give clear errors", "[tpm]") {
  TpmKeyd t;
  auto& k = t.keyd;
  std::string ec = k.create_key_pair("ec1", "ec-p256");
  std::string ec2 = k.create_key_pair("ec2", "ec-p256");
  std::string hk = k.create_key("hk", "sign");
  std::string digest = sha256("m");

  SECTION("a flipped byte in the wrapped private part") {
    auto path = file_for(k, "ec1");
    std::string blob = edge::test::read_file(path);
    blob[blob.size() - 5] = static_cast<char>(blob[blob.size() - 5] ^ 1);
    edge::test::write_file(path, blob, 0600);
    auto r = ecdsa(k, ec, digest);
    CHECK(r.status == 400);
    CHECK_THAT(r.json["message"].get<std::string>(), Catch::Contains("refused the key blob"));
  }
  SECTION("a truncated blob") {
    auto path = file_for(k, "hk");
    std::string blob = edge::test::read_file(path);
    edge::test::write_file(path, blob.substr(0, 40), 0600);
    auto r = hmac_sign(k, hk, "x");
    CHECK(r.status == 400);
    CHECK_THAT(r.json["message"].get<std::string>(), Catch::Contains("corrupted"));
  }
  SECTION("a blob from another TPM") {
    TpmKeyd other;
    other.keyd.create_key_pair("ec1", "ec-p256");
    edge::test::write_file(file_for(k, "ec1"), edge::test::read_file(file_for(other.keyd, "ec1")),
                           0600);
    auto r = ecdsa(k, ec, digest);
    CHECK(r.status == 400);
  }
  SECTION("swtpm stopped, then back") {
    t.swtpm.stop();
    auto r = ecdsa(k, ec, digest);
    CHECK(r.status == 503);
    CHECK_THAT(r.json["message"].get<std::string>(), Catch::Contains("not reachable"));
    CHECK(hmac_sign(k, hk, "x").status == 503);
    t.swtpm.start();
    CHECK(ecdsa(k, ec, digest).status == 200);
  }
  // The daemon keeps serving the other keys.
  CHECK(ecdsa(k, ec2, digest).status == 200);

  SECTION("keyd does not start without its TPM") {
    k.stop();
    t.swtpm.stop();
    edge::test::Process p({edge::test::bin("aziot-keyd")}, k.env, k.dir / "keyd2.log");
    CHECK(p.wait() != 0);
    CHECK_THAT(p.log(), Catch::Contains("not reachable"));
    CHECK_THAT(p.log(), !Catch::Contains("esys"));  // tpm2-tss's own warnings are silenced
  }
}

TEST_CASE("keyd TPM config keys", "[tpm]") {
  auto c = keyd::parse_config(
      "[aziot_keys]\nhomedir_path = \"/h\"\ntpm_tcti = \"swtpm:port=1\"\ntpm_owner_auth = \"o\"\n",
      "k.toml");
  REQUIRE(c);
  CHECK(*c->tpm_tcti == "swtpm:port=1");
  CHECK_FALSE(
      keyd::parse_config("[aziot_keys]\nhomedir_path = \"/h\"\ntpm_tcti = \"swtpm\"\n"
                         "pkcs11_lib_path = \"/x.so\"\npkcs11_base_slot = \"pkcs11:token=a\"\n",
                         "k.toml"));
  CHECK_FALSE(keyd::parse_config("[aziot_keys]\nhomedir_path = \"/h\"\ntpm_owner_auth = \"o\"\n",
                                 "k.toml"));
}

// Upstream's documented way to TPM keys: the tpm2-pkcs11 module behind keyd's PKCS#11 backend.
// Debian's libtpm2-pkcs11-1 works against swtpm (the token is made with C_InitToken through
// pkcs11-tool), but it keeps keys loaded, so a long-running keyd needs a resource manager:
// straight on swtpm the second key fails with "out of memory for object contexts". With
// tpm2-abrmd (private D-Bus session bus) in between, everything works.
TEST_CASE("keyd PKCS#11 backend with tpm2-pkcs11 on swtpm through tpm2-abrmd", "[tpm]") {
  const std::string module = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";
  if (!edge::fs::exists(module) || !edge::fs::exists("/usr/sbin/tpm2-abrmd")) {
    WARN("libtpm2-pkcs11-1 or tpm2-abrmd is not installed; skipping");
    return;
  }
  edge::test::TempDir tpmdir;
  tpm_test::Swtpm swtpm(tpmdir / "state");
  std::string store = tpmdir / "store";
  REQUIRE(edge::test::run("mkdir -p " + store) == 0);
  std::string bus = "unix:path=" + (tpmdir / "bus");
  edge::test::Process dbus({"/usr/bin/dbus-daemon", "--session", "--nofork", "--address=" + bus},
                           {}, tpmdir / "dbus.log");
  for (int i = 0; i < 100 && !edge::fs::exists(tpmdir / "bus"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // keyd and the tools (children) inherit these.
  ::setenv("DBUS_SESSION_BUS_ADDRESS", bus.c_str(), 1);
  ::setenv("TPM2_PKCS11_TCTI", "tabrmd:bus_type=session", 1);
  ::setenv("TPM2_PKCS11_STORE", store.c_str(), 1);
  ::setenv("TSS2_LOG", "all+NONE", 1);
  edge::test::Process abrmd(
      {"/usr/sbin/tpm2-abrmd", "--allow-root", "--session", "--tcti=" + swtpm.tcti()}, {},
      tpmdir / "abrmd.log");
  const std::string tool = "pkcs11-tool --module " + module;
  std::string out;
  bool up = false;
  for (int i = 0; i < 100 && !(up = edge::test::run(tool + " -L >/dev/null 2>&1") == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(edge::test::read_file(tpmdir / "abrmd.log"));
  REQUIRE(up);
  REQUIRE(edge::test::run(tool + " --init-token --label edge --so-pin so1234 2>&1", &out) == 0);
  REQUIRE(edge::test::run(tool + " --token-label edge --login --login-type so --so-pin so1234 "
                                 "--init-pin --pin 1234 2>&1",
                          &out) == 0);

  {
    Keyd k(Backend::Files, "pkcs11_lib_path = \"" + module +
                               "\"\npkcs11_base_slot = \"pkcs11:token=edge?pin-value=1234\"\n");
    std::string ec = k.create_key_pair("ec1", "ec-p256");
    auto pub = k.public_key(ec);
    std::string digest = sha256("through tpm2-pkcs11");
    auto r = ecdsa(k, ec, digest);
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(ecdsa_verifies(pub.get(), digest, unb64(r.json["signature"])));
    // The key pair is in the token, not in keyd's files.
    CHECK(file_for(k, "ec1").empty());

    auto created = k.call("POST", api("/keypair"),
                          Json{{"keyId", "rsa1"}, {"preferredAlgorithms", "rsa-2048"}});
    INFO(created.body << "\n" << edge::test::read_file(k.dir / "keyd.log"));
    REQUIRE(created.status == 200);
    std::string rsa = created.json["keyHandle"];
    auto rsa_pub = k.public_key(rsa);
    auto e = k.call("POST", api("/encrypt"),
                    Json{{"keyHandle", rsa},
                         {"algorithm", "RSA-PKCS1"},
                         {"plaintext", b64(kSha256DigestInfo + digest)}});
    INFO(e.body);
    REQUIRE(e.status == 200);
    CHECK(rsa_sha256_verifies(rsa_pub.get(), "through tpm2-pkcs11", unb64(e.json["ciphertext"])));
    k.restart();
    CHECK(ecdsa(k, ec, digest).status == 200);
  }
  for (const char* v : {"DBUS_SESSION_BUS_ADDRESS", "TPM2_PKCS11_TCTI", "TPM2_PKCS11_STORE"})
    ::unsetenv(v);
}

TEST_CASE("keyd TPM backend: a busy TPM gives 503 instead of a hung request", "[tpm]") {
  ::setenv("AZIOT_KEYD_TPM_TIMEOUT_MS", "1500", 1);  // inherited by keyd
  TpmKeyd t;
  ::unsetenv("AZIOT_KEYD_TPM_TIMEOUT_MS");
  auto& k = t.keyd;
  std::string ec = k.create_key_pair("ec1", "ec-p256");
  std::string digest = sha256("m");
  REQUIRE(ecdsa(k, ec, digest).status == 200);

  // swtpm serves one connection at a time: hold it from here.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(t.swtpm.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  auto r = ecdsa(k, ec, digest);
  CHECK(r.status == 503);
  CHECK_THAT(r.json["message"].get<std::string>(), Catch::Contains("busy"));
  ::close(fd);

  edge::test::Reply ok;
  for (int i = 0; i < 40; ++i) {
    ok = ecdsa(k, ec, digest);
    if (ok.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  CHECK(ok.status == 200);
}

// The TPM backend is a plugin (keyd/tpm_backend.h): loaded with tpm_tcti, absent otherwise.
TEST_CASE("keyd maps the tpm2-tss libraries only when tpm_tcti is set", "[tpm]") {
  {
    Keyd plain(Backend::Files);
    std::string maps = edge::test::read_file("/proc/" + std::to_string(plain.process->pid()) + "/maps");
    CHECK(maps.find("libtss2") == std::string::npos);
    CHECK(maps.find("aziot-keyd-tpm") == std::string::npos);
  }
  TpmKeyd t;
  std::string maps = edge::test::read_file("/proc/" + std::to_string(t.keyd.process->pid()) + "/maps");
  CHECK(maps.find("aziot-keyd-tpm.so") != std::string::npos);
  CHECK(maps.find("libtss2-esys") != std::string::npos);
}

TEST_CASE("keyd with tpm_tcti but no TPM plugin installed exits with a clear error", "[tpm]") {
  // A copy of the executable in a directory without the plugin next to it or in ../lib.
  edge::test::TempDir dir;
  tpm_test::Swtpm swtpm{dir / "state"};
  REQUIRE(edge::test::run("mkdir -p " + (dir / "bin") + " && cp " + edge::test::bin("aziot-keyd") + " " +
                          (dir / "bin/aziot-keyd")) == 0);
  edge::test::write_file(dir / "config.toml", "[aziot_keys]\nhomedir_path = \"" + (dir / "home") +
                                                  "\"\ntpm_tcti = \"" + swtpm.tcti() +
                                                  "\"\n[endpoints]\naziot_keyd = \"unix://" +
                                                  (dir / "keyd.sock") + "\"\n");
  std::map<std::string, std::string> env{{"AZIOT_KEYD_CONFIG", dir / "config.toml"},
                                         {"AZIOT_KEYD_CONFIG_DIR", dir / "none"}};
  {
    edge::test::Process p({dir / "bin/aziot-keyd"}, env, dir / "keyd.log");
    CHECK(p.wait() != 0);
    CHECK_THAT(p.log(), Catch::Contains("could not load the TPM backend") &&
                            Catch::Contains("bin/aziot-keyd-tpm.so"));
    CHECK_FALSE(edge::fs::exists(dir / "keyd.sock"));
  }
  // The plugin next to the executable (upstream's libexec layout) is found.
  REQUIRE(edge::test::run("cp " + edge::test::bin("../lib/iotedge-lite/aziot-keyd-tpm.so") + " " +
                          (dir / "bin/")) == 0);
  edge::test::Process p({dir / "bin/aziot-keyd"}, env, dir / "keyd2.log");
  REQUIRE(edge::test::wait_for_socket(dir / "keyd.sock"));
  edge::http::UnixClient client(dir / "keyd.sock");
  auto r = edge::test::call(client, "POST", api("/keypair"),
                            Json{{"keyId", "next-to-exe"}, {"preferredAlgorithms", "ec-p256"}});
  CHECK(r.status == 200);
  CHECK(edge::test::run("ls " + (dir / "home/keys") + " | grep -q 'nexttoexe-.*\\.tpmkey$'") == 0);
}
