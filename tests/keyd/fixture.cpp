#include "tests/keyd/fixture.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.h"

namespace keyd_test {
using edge::http::Json;

std::string api(const std::string& path) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=2021-05-01";
}
std::string b64(const std::string& bytes) { return edge::base64::encode(bytes); }
std::string unb64(const std::string& text) { return edge::base64::decode(text).value_or("<bad base64>"); }
std::string sha256(const std::string& data) { return edge::crypto::sha256(data); }

Keyd::Keyd(Backend b, std::string extra) : backend(b), extra_config(std::move(extra)) {
  std::string config = "[aziot_keys]\nhomedir_path = \"" + dir.path() + "/home\"\n";
  if (backend == Backend::SoftHsm) {
    std::string tokens = dir / "tokens";
    REQUIRE(edge::test::run("mkdir -p " + tokens) == 0);
    edge::test::write_file(dir / "softhsm2.conf", "directories.tokendir = " + tokens +
                                                      "\nobjectstore.backend = file\nlog.level = ERROR\n");
    env["SOFTHSM2_CONF"] = dir / "softhsm2.conf";
    std::string out;
    REQUIRE(edge::test::run("SOFTHSM2_CONF=" + env["SOFTHSM2_CONF"] +
                                " softhsm2-util --init-token --free --label 'Key pairs' --so-pin so1234 --pin 1234 2>&1",
                            &out) == 0);
    config += "pkcs11_lib_path = \"/usr/lib/softhsm/libsofthsm2.so\"\n"
              "pkcs11_base_slot = \"pkcs11:token=Key pairs?pin-value=1234\"\n";
  }
  config += extra_config;
  config += "\n[endpoints]\naziot_keyd = \"unix://" + socket + "\"\n";
  edge::test::write_file(dir / "config.toml", config);
  env["AZIOT_KEYD_CONFIG"] = dir / "config.toml";
  env["AZIOT_KEYD_CONFIG_DIR"] = dir / "config.d";
  start();
}

Keyd::~Keyd() { stop(); }

void Keyd::start() {
  process = std::make_unique<edge::test::Process>(std::vector<std::string>{edge::test::bin("aziot-keyd")},
                                                  env, dir / "keyd.log");
  REQUIRE(edge::test::wait_for_socket(socket));
  ::chmod(socket.c_str(), 0666);  // so tests can call as other uids
  client = std::make_unique<edge::http::UnixClient>(socket);
}

void Keyd::stop() {
  client.reset();
  if (process) process->stop();
  process.reset();
}

edge::test::Reply Keyd::call(const std::string& method, const std::string& path,
                             const std::optional<Json>& body) {
  return edge::test::call(*client, method, path, body);
}

edge::test::Reply Keyd::call_as(uid_t uid, const std::string& method, const std::string& path,
                                const std::optional<Json>& body) {
  return edge::test::call_as(uid, socket, method, path, body);
}

std::string Keyd::create_key_pair(const std::string& id, const std::string& algorithms) {
  auto r = call("POST", api("/keypair"), Json{{"keyId", id}, {"preferredAlgorithms", algorithms}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json["keyHandle"];
}

std::string Keyd::create_key(const std::string& id, const std::string& usage) {
  auto r = call("POST", api("/key"), Json{{"keyId", id}, {"usage", usage}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json["keyHandle"];
}

edge::crypto::PKey Keyd::public_key(const std::string& handle) {
  auto param = [&](const std::string& name) {
    auto r = call("POST", api("/parameters/" + name), Json{{"keyHandle", handle}});
    INFO(name << ": " << r.body);
    REQUIRE(r.status == 200);
    return r.json["value"].get<std::string>();
  };
  std::string algorithm = param("algorithm");
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM *n = nullptr, *e = nullptr;
  std::string point;
  const char* name = nullptr;
  if (algorithm == "ECDSA") {
    // 06 08 2A 86 48 CE 3D 03 01 07 = prime256v1
    REQUIRE(edge::crypto::hex(unb64(param("ec-curve-oid"))) == "06082a8648ce3d030107");
    point = unb64(param("ec-point"));
    REQUIRE(point.size() == 33);  // compressed
    name = "EC";
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  } else {
    REQUIRE(algorithm == "RSA");
    auto mod = unb64(param("rsa-modulus"));
    auto exp = unb64(param("rsa-exponent"));
    n = BN_bin2bn(reinterpret_cast<const unsigned char*>(mod.data()), static_cast<int>(mod.size()), nullptr);
    e = BN_bin2bn(reinterpret_cast<const unsigned char*>(exp.data()), static_cast<int>(exp.size()), nullptr);
    name = "RSA";
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr);
  EVP_PKEY* key = nullptr;
  REQUIRE(EVP_PKEY_fromdata_init(ctx) > 0);
  REQUIRE(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) > 0);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return edge::crypto::PKey(key);
}

std::vector<std::string> Keyd::key_files() const { return edge::test::list_dir(dir / "home/keys"); }

}  // namespace keyd_test
