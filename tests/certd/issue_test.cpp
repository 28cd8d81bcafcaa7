// Issuance through certd + keyd: a self-signed root, a local_ca intermediate, server and client
// leaves; every chain checked by `openssl verify` and every extension read back.
#include "certd/issue.h"

#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <ctime>

#include "tests/certd/fixture.h"

using namespace certd_test;
using edge::http::Json;

namespace {
const char* kPkiConfig = R"(
[cert_issuance]
root = { method = "self_signed", expiry_days = 3650 }
intermediate = { method = "local_ca", expiry_days = 365 }
long-leaf = { method = "local_ca", expiry_days = 5000 }
renamed = { method = "local_ca", common_name = "configured-name" }
located = { method = "local_ca", subject = { CN = "located", L = "AQ", ST = "Antarctica" } }

[cert_issuance.local_ca]
cert = "root"
pk = "root"
)";

std::string hex_of(const ASN1_OCTET_STRING* s) {
  return s ? edge::crypto::hex(
                 std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<size_t>(ASN1_STRING_length(s))))
           : "";
}
std::string skid(X509* c) { return hex_of(X509_get0_subject_key_id(c)); }
std::string akid(X509* c) { return hex_of(X509_get0_authority_key_id(c)); }

// Seconds from now to the certificate's notAfter.
long long seconds_left(X509* c) {
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(c)) == 1);
  return static_cast<long long>(days) * 86400 + secs;
}
void check_lifetime_days(X509* c, long long days) {
  INFO("expected about " << days << " days");
  CHECK(std::llabs(seconds_left(c) - days * 86400) < 120);
  int d = 0, s = 0;
  REQUIRE(ASN1_TIME_diff(&d, &s, X509_get0_notBefore(c), nullptr) == 1);
  CHECK(d == 0);
  CHECK(s < 120);  // notBefore = now
}

std::string serial_hex(X509* c) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string out = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

void issue_whole_pki(Backend backend) {
  Certd certd(backend, kPkiConfig);

  // Root: keyd EC P-256 key pair "root", self-signed by certd through keyd.
  std::string root_handle;
  std::string root_csr = keyd_csr(certd, "root", "ec-p256",
                                  {"CN=Test Root CA,O=Edge Tests", "critical,CA:TRUE,pathlen:1",
                                   "critical,keyCertSign,cRLSign,digitalSignature", "", ""},
                                  &root_handle);
  std::string root_pem = certd.issue("root", root_csr);
  auto root = parse_pem_chain(root_pem);
  REQUIRE(root.size() == 1);
  CHECK(X509_NAME_cmp(X509_get_subject_name(root[0].get()), X509_get_issuer_name(root[0].get())) ==
        0);
  CHECK(X509_get_signature_nid(root[0].get()) == NID_ecdsa_with_SHA256);
  CHECK(!skid(root[0].get()).empty());
  check_lifetime_days(root[0].get(), 3650);
  std::string out;
  CHECK(openssl_verify(certd.dir, root_pem, root_pem, &out) == 0);
  INFO(out);

  // Intermediate: keyd RSA-2048 key pair, issued by the local CA (root) from config.
  std::string inter_handle;
  std::string inter_csr = keyd_csr(certd, "intermediate", "rsa-2048",
                                   {"CN=Test Intermediate CA", "critical,CA:TRUE,pathlen:0",
                                    "critical,keyCertSign,cRLSign,digitalSignature", "", ""},
                                   &inter_handle);
  std::string inter_pem = certd.issue("intermediate", inter_csr);
  auto inter = parse_pem_chain(inter_pem);
  REQUIRE(inter.size() == 2);
  CHECK(certd::to_pem(inter[1].get()) == root_pem);
  CHECK(akid(inter[0].get()) == skid(root[0].get()));
  CHECK(X509_get_signature_nid(inter[0].get()) == NID_ecdsa_with_SHA256);
  check_lifetime_days(inter[0].get(), 365);
  bool critical = false;
  CHECK(extension_text(inter[0].get(), NID_basic_constraints, &critical) == "CA:TRUE, pathlen:0");
  CHECK(critical);
  CHECK(openssl_verify(certd.dir, root_pem, inter_pem, &out) == 0);

  // Leaves issued by the intermediate (RSA, signed through keyd's RSA-PKCS1 /encrypt).
  auto server_key = ec_key();
  std::string server_pem = certd.issue(
      "aziot-edged/module/edgeHub:1:server",
      local_csr(server_key.get(), {"CN=gw.example.test", "critical,CA:FALSE",
                                   "critical,digitalSignature,keyEncipherment", "serverAuth",
                                   "DNS:gw.example.test,DNS:edgeHub,IP:127.0.0.1"}),
      "intermediate", inter_handle);
  auto server = parse_pem_chain(server_pem);
  REQUIRE(server.size() == 3);
  X509* s = server[0].get();
  CHECK(X509_get_signature_nid(s) == NID_sha256WithRSAEncryption);
  CHECK(extension_text(s, NID_basic_constraints, &critical) == "CA:FALSE");
  CHECK(critical);
  CHECK(extension_text(s, NID_key_usage, &critical) == "Digital Signature, Key Encipherment");
  CHECK(critical);
  CHECK(extension_text(s, NID_ext_key_usage) == "TLS Web Server Authentication");
  CHECK(extension_text(s, NID_subject_alt_name) ==
        "DNS:gw.example.test, DNS:edgeHub, IP Address:127.0.0.1");
  CHECK(!skid(s).empty());
  CHECK(akid(s) == skid(inter[0].get()));
  check_lifetime_days(s, 30);  // the default
  CHECK(openssl_verify(certd.dir, root_pem, server_pem, &out,
                       "-purpose sslserver -verify_hostname gw.example.test") == 0);
  INFO(out);
  CHECK(openssl_verify(certd.dir, root_pem, server_pem, &out, "-verify_ip 127.0.0.1") == 0);
  CHECK(openssl_verify(certd.dir, root_pem, server_pem, &out,
                       "-verify_hostname other.example.test") != 0);

  auto client_key = rsa_key();
  std::string client_csr = local_csr(
      client_key.get(), {"CN=device-1", "", "critical,digitalSignature", "clientAuth", ""});
  std::string client_pem = certd.issue("device-1", client_csr, "intermediate", inter_handle);
  auto client = parse_pem_chain(client_pem);
  REQUIRE(client.size() == 3);
  CHECK(extension_text(client[0].get(), NID_ext_key_usage) == "TLS Web Client Authentication");
  CHECK(extension_text(client[0].get(), NID_basic_constraints)
            .empty());  // nothing added beyond the CSR's
  CHECK(openssl_verify(certd.dir, root_pem, client_pem, &out, "-purpose sslclient") == 0);
  CHECK(openssl_verify(certd.dir, root_pem, client_pem, &out, "-purpose sslserver") != 0);

  // Random non-zero serials: the same CSR twice gives two serials.
  std::string again = certd.issue("device-1", client_csr, "intermediate", inter_handle);
  std::string s1 = serial_hex(client[0].get()), s2 = serial_hex(parse_pem_chain(again)[0].get());
  CHECK(s1 != s2);
  CHECK(s1 != "0");
  CHECK(s1.size() == 32);

  // expiry_days beyond the issuer's notAfter is clamped to it; a configured common_name wins.
  auto long_leaf = parse_pem_chain(certd.issue("long-leaf", client_csr));
  CHECK(ASN1_TIME_compare(X509_get0_notAfter(long_leaf[0].get()),
                          X509_get0_notAfter(root[0].get())) == 0);
  auto renamed = parse_pem_chain(certd.issue("renamed", client_csr));
  char cn[80] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(renamed[0].get()), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "configured-name");
  auto located = parse_pem_chain(certd.issue("located", client_csr));
  char* subject = X509_NAME_oneline(X509_get_subject_name(located[0].get()), nullptr, 0);
  CHECK(std::string(subject) == "/CN=located/L=AQ/ST=Antarctica");
  OPENSSL_free(subject);

  // What was issued is what GET returns, also after a restart of both daemons.
  CHECK(certd.get("aziot-edged/module/edgeHub:1:server") == server_pem);
  certd.stop();
  certd.keyd.restart();
  certd.start();
  CHECK(certd.get("root") == root_pem);
  CHECK(certd.get("intermediate") == inter_pem);
  CHECK(certd.get("aziot-edged/module/edgeHub:1:server") == server_pem);
  // keyd still signs for the intermediate after the restart.
  auto after = parse_pem_chain(certd.issue("device-2", client_csr, "intermediate", inter_handle));
  CHECK(akid(after[0].get()) == skid(inter[0].get()));
}
}  // namespace

TEST_CASE("a root CA an intermediate and leaves issued through keyd files backend verify",
          "[integration]") {
  issue_whole_pki(Backend::Files);
}

TEST_CASE("a root CA an intermediate and leaves issued through keyd SoftHSM backend verify",
          "[integration][hsm]") {
  issue_whole_pki(Backend::SoftHsm);
}

TEST_CASE("stored certs are named after the id and its hash", "[integration]") {
  Certd certd(Backend::Files, R"([cert_issuance]
aziot-edged-ca = { method = "self_signed" }
)");
  std::string csr = keyd_csr(certd, "aziot-edged-ca", "ec-p256",
                             {"CN=aziot-edge CA dev1", "critical,CA:TRUE,pathlen:0",
                              "critical,digitalSignature,keyCertSign", "", ""});
  std::string pem = certd.issue("aziot-edged-ca", csr);
  auto files = certd.cert_files();
  REQUIRE(files.size() == 1);
  CHECK(files[0] ==
        "aziotedgedca-" + edge::crypto::hex(edge::crypto::sha256("aziot-edged-ca")) + ".cer");
  CHECK(edge::test::read_file(certd.home() + "/certs/" + files[0]) == pem);
  struct stat st {};
  REQUIRE(::stat((certd.home() + "/certs/" + files[0]).c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
  auto r = certd.call("DELETE", api("/certificates/aziot-edged-ca"));
  CHECK(r.status == 204);
  CHECK(certd.cert_files().empty());
  CHECK(certd.call("DELETE", api("/certificates/aziot-edged-ca")).status ==
        204);  // already gone is fine
  r = certd.call("GET", api("/certificates/aziot-edged-ca"));
  CHECK(r.status == 400);
  CHECK(r.json["message"] == "parameter \"id\" has an invalid value\ncaused by: not found");
}
