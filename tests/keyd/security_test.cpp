// keyd under hostile input: forged handles, bad JSON, wrong callers, floods, crashes.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "tests/keyd/fixture.h"

using namespace keyd_test;
using edge::http::Json;

TEST_CASE("tampered truncated and foreign handles are refused", "[integration]") {
  Keyd keyd(Backend::Files);
  Keyd other(Backend::Files);
  std::string h = keyd.create_key("k");
  std::string foreign = other.create_key("k");  // same id, other daemon's validation key
  auto sign = [&](const std::string& handle) {
    return keyd.call("POST", api("/sign"), Json{{"keyHandle", handle}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("m")}}}});
  };
  REQUIRE(sign(h).status == 200);
  std::string flipped = h;
  flipped[10] = flipped[10] == 'A' ? 'B' : 'A';
  auto amp = h.find('&');
  std::vector<std::string> bad = {flipped, h.substr(0, h.size() - 4), h.substr(0, amp), foreign, "", "garbage",
                                  "sr=&sig=", "sr=e30=&sig=" + h.substr(amp + 5), std::string(20000, 'a')};
  // A genuine signature over different JSON: swap the sr part between two valid handles.
  std::string h2 = keyd.create_key("other-key");
  bad.push_back(h2.substr(0, h2.find('&')) + h.substr(amp));
  for (const auto& handle : bad) {
    auto r = sign(handle);
    INFO(handle.substr(0, 80));
    CHECK(r.status == 400);
    CHECK_THAT(r.body, Catch::Contains("invalid handle"));
  }
  // Key-pair handle used where a symmetric key is needed, and the other way round.
  std::string kp = keyd.create_key_pair("kp", "ec-p256");
  CHECK(sign(kp).status == 400);
  CHECK(keyd.call("POST", api("/sign"), Json{{"keyHandle", h}, {"algorithm", "ECDSA"}, {"parameters", {{"digest", b64(sha256("x"))}}}}).status == 400);
  CHECK(keyd.call("POST", api("/parameters/algorithm"), Json{{"keyHandle", h}}).status == 400);
  CHECK(keyd.call("DELETE", api("/keypair"), Json{{"keyHandle", h}}).status == 400);
  CHECK(sign(h).status == 200);
}

TEST_CASE("malformed requests get clear errors and change nothing", "[integration]") {
  Keyd keyd(Backend::Files);
  keyd.create_key_pair("kp", "ec-p256");
  auto before = keyd.key_files();
  struct Case {
    std::string method, path, body;
    int status;
  };
  std::vector<Case> cases = {
      {"POST", "/keypair", "{not json", 422},
      {"POST", "/keypair", "[]", 422},
      {"POST", "/keypair", "{}", 422},
      {"POST", "/keypair", R"({"keyId": 5})", 422},
      {"POST", "/keypair", R"({"keyId": "x", "preferredAlgorithms": "dsa-1024"})", 400},
      {"POST", "/key", R"({"keyId": "x"})", 422},
      {"POST", "/key", R"({"keyId": "x", "usage": "fly"})", 422},
      {"POST", "/key", R"({"keyId": "x", "usage": "sign", "keyBytes": "not base64!"})", 422},
      {"POST", "/key", R"({"keyId": "x", "usage": "sign", "keyBytes": ""})", 400},
      {"POST", "/key", R"({"keyId": "", "usage": "sign"})", 400},
      {"POST", "/key", R"({"keyId": "nul\u0000id", "usage": "sign"})", 400},
      {"POST", "/key", R"({"keyId": ")" + std::string(300, 'a') + R"(", "usage": "sign"})", 400},
      {"POST", "/sign", R"({"keyHandle": "x", "algorithm": "MD5", "parameters": {}})", 422},
      {"POST", "/sign", R"({"keyHandle": "x", "algorithm": "ECDSA"})", 422},
      {"POST", "/encrypt", R"({"keyHandle": "x", "algorithm": "AEAD", "plaintext": "AA=="})", 422},
      {"POST", "/derivedkey", R"({"baseKeyHandle": "x"})", 422},
      {"POST", "/parameters/algorithm", "", 400},
      {"DELETE", "/keypair", "", 400},
      {"PUT", "/keypair", "{}", 400},
      {"GET", "/keypair", "", 400},
      {"POST", "/keypair/kp", R"({"from": "missing"})", 400},
      {"POST", "/key/kp", R"({"from": "other"})", 400},
      {"GET", "/keys", "", 404},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.path << " " << c.body.substr(0, 60));
    auto r = keyd.client->request_raw(c.method, api(c.path), c.body, c.body.empty() ? "" : "application/json");
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK_FALSE(r->message().empty());
  }
  // Oversized body: 413 before any parsing.
  auto big = keyd.client->request_raw("POST", api("/keypair"), std::string(2 * 1024 * 1024, ' '), "application/json");
  if (big) CHECK(big->status == 413);
  CHECK(keyd.key_files() == before);

  // Ids with path characters stay inside the keys directory.
  for (std::string id : {"../../escape", "a/b", "..", "/abs"}) {
    auto r = keyd.call("POST", api("/keypair"), Json{{"keyId", id}});
    CHECK(r.status == 200);
  }
  CHECK(edge::test::list_dir(keyd.dir / "home") == std::vector<std::string>{"keys"});
  CHECK(edge::test::list_dir(keyd.dir.path()) ==
        std::vector<std::string>{"config.toml", "home", "keyd.log", "keyd.sock"});
  CHECK(keyd.call("GET", api("/keypair/..%2F..%2Fescape")).status == 200);
  CHECK(keyd.process->running());
}

TEST_CASE("principals authorize id-based calls and handles are capabilities", "[integration]") {
  Keyd keyd(Backend::Files, "\n[[principal]]\nuid = 65534\nkeys = [\"allowed*\", \"exact\"]\n");
  auto ok = keyd.call_as(65534, "POST", api("/keypair"), Json{{"keyId", "allowed-1"}});
  INFO(ok.body);
  CHECK(ok.status == 200);
  CHECK(keyd.call_as(65534, "POST", api("/key"), Json{{"keyId", "exact"}, {"usage", "sign"}}).status == 200);
  auto denied = keyd.call_as(65534, "POST", api("/keypair"), Json{{"keyId", "secret"}});
  CHECK(denied.status == 401);
  CHECK(denied.json["message"] == "user 65534 is not authorized to access the key secret");
  CHECK(keyd.call_as(65534, "POST", api("/key"), Json{{"keyId", "exactly"}, {"usage", "sign"}}).status == 401);

  std::string root_key = keyd.create_key("secret-root");
  CHECK(keyd.call_as(65534, "GET", api("/key/secret-root")).status == 401);
  CHECK(keyd.call_as(65533, "GET", api("/keypair/allowed-1")).status == 401);
  CHECK(keyd.call_as(65534, "GET", api("/keypair/allowed-1")).status == 200);
  // Moving needs both ids.
  keyd.create_key_pair("secret-pair", "ec-p256");
  CHECK(keyd.call_as(65534, "POST", api("/keypair/allowed-2"), Json{{"from", "secret-pair"}}).status == 401);
  CHECK(keyd.call("GET", api("/keypair/secret-pair")).status == 200);
  // A handle given to the caller works whatever its uid, as upstream.
  CHECK(keyd.call_as(65533, "POST", api("/sign"), Json{{"keyHandle", root_key}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("m")}}}}).status == 200);
  CHECK(keyd.process->running());
}

TEST_CASE("connections beyond max_requests for one uid are closed unanswered", "[integration]") {
  Keyd keyd(Backend::Files, "");
  keyd.stop();
  std::string config = edge::test::read_file(keyd.dir / "config.toml");
  edge::test::write_file(keyd.dir / "config.toml", "max_requests = 3\n" + config);
  keyd.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // start()'s probe connection ends
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(edge::http::connect_unix(keyd.socket));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  edge::http::UnixClient extra(keyd.socket, std::chrono::milliseconds(2000));
  auto r = extra.request("GET", api("/keypair/x"));
  CHECK_FALSE(r);
  // Another uid is not affected by root's connections.
  CHECK(keyd.call_as(65534, "GET", api("/keypair/x")).status == 401);
  for (int fd : held) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  edge::http::UnixClient again(keyd.socket);
  CHECK(edge::test::call(again, "GET", api("/keypair/x")).status == 400);
  CHECK_THAT(keyd.process->log(), Catch::Contains("Max simultaneous connections reached for user 0"));
}

TEST_CASE("SIGKILL while creating keys leaves no partial key file", "[integration]") {
  Keyd keyd(Backend::Files);
  std::atomic<bool> stop{false};
  std::thread creator([&] {
    edge::http::UnixClient c(keyd.socket);
    for (int i = 0; !stop && i < 200; ++i)
      c.request("POST", api("/keypair"), Json{{"keyId", "k" + std::to_string(i)}, {"preferredAlgorithms", "rsa-2048"}});
  });
  // Kill once a few keys exist, while the creator is still writing more.
  for (int i = 0; i < 500 && keyd.key_files().size() < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  keyd.process->kill(SIGKILL);
  stop = true;
  creator.join();
  keyd.process->wait();
  keyd.start();
  // Every file left is a whole key, and leftovers of interrupted writes are gone.
  auto files = keyd.key_files();
  CHECK(files.size() >= 2);
  for (const auto& f : files) {
    INFO(f);
    CHECK(f[0] != '.');
    std::string content = edge::test::read_file(keyd.dir / ("home/keys/" + f));
    if (f.starts_with("handlevalidationkey")) {
      CHECK(content.size() == 32);
    } else {
      CHECK(edge::crypto::private_key_from_pem(content));
      std::string id = f.substr(0, f.find('-'));
      CHECK(keyd.call("GET", api("/keypair/" + id)).status == 200);
    }
  }
}

TEST_CASE("bad configuration stops start-up with the file and key named", "[integration]") {
  edge::test::TempDir dir;
  auto start = [&](const std::string& config) {
    edge::test::write_file(dir / "config.toml", config);
    edge::test::Process p({edge::test::bin("aziot-keyd")},
                          {{"AZIOT_KEYD_CONFIG", dir / "config.toml"}, {"AZIOT_KEYD_CONFIG_DIR", dir / "none"}},
                          dir / "log");
    int code = p.wait();
    std::string log = p.log();
    ::unlink((dir / "log").c_str());
    return std::make_pair(code, log);
  };
  auto [c1, l1] = start("[aziot_keys]\nhomedir_path = \"" + dir.path() + "/h\"\nbogus = \"1\"\n");
  CHECK(c1 != 0);
  CHECK_THAT(l1, Catch::Contains("aziot_keys.bogus") && Catch::Contains("config.toml:3"));
  auto [c2, l2] = start("[aziot_keys\n");
  CHECK(c2 != 0);
  CHECK_THAT(l2, Catch::Contains("config.toml:1"));
  auto [c3, l3] = start("max_requests = \"many\"\n[aziot_keys]\nhomedir_path = \"/tmp\"\n");
  CHECK(c3 != 0);
  CHECK_THAT(l3, Catch::Contains("max_requests") && Catch::Contains("expected an integer"));
  auto [c4, l4] = start("[aziot_keys]\nhomedir_path = \"" + dir.path() + "/h\"\npkcs11_lib_path = \"/nonexistent.so\"\n");
  CHECK(c4 != 0);
  CHECK_THAT(l4, Catch::Contains("/nonexistent.so"));
}

TEST_CASE("preloaded keys from file URIs", "[integration]") {
  edge::test::TempDir pre;
  std::string raw(32, '\x07');
  edge::test::write_file(pre / "device-id", raw, 0600);
  // Every PEM form a user may have: PKCS#8, SEC 1 ("EC PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY").
  REQUIRE(edge::test::run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + pre / "ca.key.pem 2>/dev/null") == 0);
  REQUIRE(edge::test::run("openssl ecparam -name prime256v1 -genkey -noout -out " + pre / "sec1.pem 2>/dev/null") == 0);
  REQUIRE(edge::test::run("openssl genrsa -traditional -out " + pre / "pkcs1.pem 2048 2>/dev/null") == 0);
  Keyd keyd(Backend::Files, "\n[preloaded_keys]\ndevice-id = \"file://" + pre / "device-id" + "\"\nca = \"file://" +
                                pre / "ca.key.pem" + "\"\nsec1 = \"file://" + pre / "sec1.pem" + "\"\npkcs1 = \"file://" +
                                pre / "pkcs1.pem" + "\"\n");
  auto h = keyd.call("GET", api("/key/device-id"));
  REQUIRE(h.status == 200);
  auto s = keyd.call("POST", api("/sign"), Json{{"keyHandle", h.json["keyHandle"]}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", b64("m")}}}});
  CHECK(unb64(s.json["signature"]) == *edge::crypto::hmac_sha256(raw, "m"));
  for (std::string id : {"ca", "sec1", "pkcs1"}) {
    INFO(id);
    auto kp = keyd.call("GET", api("/keypair/" + id));
    REQUIRE(kp.status == 200);
    auto pub = keyd.public_key(kp.json["keyHandle"]);
    std::string expected_pem;
    edge::test::run("openssl pkey -in " + pre / (id == "ca" ? "ca.key.pem" : id + ".pem") + " -pubout 2>/dev/null", &expected_pem);
    CHECK(*edge::crypto::public_key_to_pem(pub.get()) == expected_pem);
  }
}

TEST_CASE("key pair files are PKCS#8 PEM that OpenSSL reads", "[integration]") {
  Keyd keyd(Backend::Files);
  for (std::string algorithm : {"ec-p256", "rsa-2048"}) {
    INFO(algorithm);
    auto pub = keyd.public_key(keyd.create_key_pair("kp-" + algorithm.substr(0, 2), algorithm));
    std::string file;
    for (const auto& f : keyd.key_files())
      if (f.starts_with("kp" + algorithm.substr(0, 2))) file = keyd.dir / ("home/keys/" + f);
    REQUIRE(!file.empty());
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto text = edge::test::read_file(file);
    CHECK(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    CHECK(text.ends_with("-----END PRIVATE KEY-----\n"));
    std::string from_openssl;
    REQUIRE(edge::test::run("openssl pkey -in " + file + " -pubout 2>/dev/null", &from_openssl) == 0);
    CHECK(*edge::crypto::public_key_to_pem(pub.get()) == from_openssl);
    // And the file survives a restart with the same public key.
    keyd.restart();
    auto again = keyd.call("GET", api("/keypair/kp-" + algorithm.substr(0, 2)));
    REQUIRE(again.status == 200);
    CHECK(*edge::crypto::public_key_to_pem(keyd.public_key(again.json["keyHandle"]).get()) == from_openssl);
  }
}

TEST_CASE("unreadable key pair files give a clear error and stay untouched", "[integration]") {
  edge::test::TempDir pre;
  std::string good;
  REQUIRE(edge::test::run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null", &good) == 0);
  edge::test::write_file(pre / "truncated.pem", good.substr(0, good.size() / 2), 0600);
  edge::test::write_file(pre / "garbage.pem", "-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", 0600);
  edge::test::write_file(pre / "empty.pem", "", 0600);
  REQUIRE(edge::test::run("openssl genpkey -algorithm ED25519 -out " + pre / "ed25519.pem 2>/dev/null") == 0);
  REQUIRE(edge::test::run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes256 -pass pass:secret -out " +
                          pre / "encrypted.pem 2>/dev/null") == 0);
  std::string config = "\n[preloaded_keys]\n";
  std::vector<std::string> ids = {"truncated", "garbage", "empty", "ed25519", "encrypted"};
  for (const auto& id : ids) config += id + " = \"file://" + pre / (id + ".pem") + "\"\n";
  Keyd keyd(Backend::Files, config);
  for (const auto& id : ids) {
    INFO(id);
    std::string before = edge::test::read_file(pre / (id + ".pem"));
    auto r = keyd.call("GET", api("/keypair/" + id));
    CHECK(r.status == 400);
    CHECK_THAT(r.json["message"].get<std::string>(), Catch::Contains("is not a key pair"));
    CHECK(edge::test::read_file(pre / (id + ".pem")) == before);
  }
  CHECK(keyd.call("GET", api("/keypair/truncated")).status == 400);
  CHECK(!keyd.create_key_pair("still-serving", "ec-p256").empty());
}
