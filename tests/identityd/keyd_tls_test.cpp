// TLS client authentication with a key that stays in keyd (the X.509 device identity path to
// DPS and the hub): a self-signed certificate is signed through keyd, then openssl s_server
// demands and verifies it, over TLS 1.3 (RSA-PSS / ECDSA) and TLS 1.2.
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include "common/cloud/https_client.h"
#include "identityd/keyd_key.h"
#include "tests/identityd/fixture.h"
#include "tests/identityd/pki.h"

using namespace identityd_test;
using edge::http::Json;

namespace {
edge::crypto::X509Ptr self_signed(EVP_PKEY* key, const std::string& cn) {
  edge::crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_ext_key_usage, "clientAuth");
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);  // signed in keyd
  return cert;
}
}  // namespace

TEST_CASE("keyd-held keys authenticate TLS clients", "[integration]") {
  auto algorithm = GENERATE(std::string("ec-p256"), std::string("rsa-2048"));
  auto tls = GENERATE(std::string("-tls1_3"), std::string("-tls1_2"));
  SECTION(algorithm + " " + tls) {
    Daemons d("[provisioning]\nsource = \"none\"\n", false);
    auto r = d.keyd("POST", "/keypair",
                    Json{{"keyId", "device-id"}, {"preferredAlgorithms", algorithm}});
    REQUIRE(r.status == 200);
    auto key = identityd::keyd_private_key(d.keyd_socket, r.json["keyHandle"]);
    REQUIRE(key);
    auto cert = self_signed(key->get(), "dev-x509");
    // The signature verifies with the public key: keyd really signed it.
    CHECK(X509_verify(cert.get(), key->get()) == 1);
    std::string cert_path = d.dir / "client.pem";
    FILE* f = fopen(cert_path.c_str(), "w");
    PEM_write_X509(f, cert.get());
    fclose(f);

    edge::test::run("mkdir -p " + (d.dir / "www"));
    edge::test::write_file(d.dir / "www/ok", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    TlsServer server(d.dir / "www",
                     "-Verify 1 -verify_return_error -CAfile " + cert_path + " " + tls);
    edge::cloud::Options o;
    o.system_roots = false;
    o.extra_roots_pem = pki().ca_pem();
    o.proxy = std::optional<edge::cloud::Proxy>();
    o.timeout = std::chrono::seconds(10);
    std::string url = "https://127.0.0.1:" + std::to_string(server.port) + "/ok";
    // Without a certificate the server refuses.
    auto plain = edge::cloud::request("GET", url, {}, "", o);
    CHECK(!plain);
    o.identity = edge::cloud::ClientIdentity{{cert.get()}, key->get()};
    auto resp = edge::cloud::request("GET", url, {}, "", o);
    INFO((resp ? "" : resp.error().message));
    REQUIRE(resp);
    CHECK(resp->status == 200);
    CHECK(resp->body == "ok");
  }
}
