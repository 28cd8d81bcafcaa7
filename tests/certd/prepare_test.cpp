// The to-be-signed certificate certd builds, checked without daemons (signed here in-process).
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>
#include <ctime>

#include "certd/issue.h"
#include "tests/certd/fixture.h"

using namespace certd;
using certd_test::CsrSpec;

namespace {
edge::crypto::X509Req csr_for(EVP_PKEY* key, const CsrSpec& spec) {
  auto pem = certd_test::local_csr(key, spec);
  auto req = parse_csr(pem);
  REQUIRE(req);
  return std::move(*req);
}

// A CA certificate with or without a subject key identifier.
edge::crypto::X509Ptr ca_cert(EVP_PKEY* key, bool with_skid) {
  auto req = csr_for(key, {"CN=Unit CA", "critical,CA:TRUE"});
  CertTemplate t;
  t.csr = req.get();
  t.now = std::time(nullptr);
  t.expiry_days = 10;
  auto cert = prepare_certificate(t);
  REQUIRE(cert);
  if (!with_skid)
    X509_delete_ext(cert->get(), X509_get_ext_by_NID(cert->get(), NID_subject_key_identifier, -1));
  REQUIRE(X509_sign(cert->get(), key, EVP_sha256()) > 0);
  return std::move(*cert);
}
}  // namespace

TEST_CASE("an issuer without a SKID gives a cert without an AKID", "[unit]") {
  auto ca_key = certd_test::ec_key();
  auto ca = ca_cert(ca_key.get(), false);
  CHECK(X509_get0_subject_key_id(ca.get()) == nullptr);
  auto key = certd_test::ec_key();
  auto req = csr_for(key.get(), {"CN=leaf"});
  CertTemplate t{req.get(), nullptr, 30, ca.get(), std::time(nullptr)};
  auto cert = prepare_certificate(t);
  REQUIRE(cert);
  CHECK(X509_get_ext_by_NID(cert->get(), NID_authority_key_identifier, -1) < 0);
  CHECK(X509_get_ext_by_NID(cert->get(), NID_subject_key_identifier, -1) >= 0);
}

TEST_CASE("a SKID in the CSR is kept and not doubled", "[unit]") {
  auto ca_key = certd_test::ec_key();
  auto ca = ca_cert(ca_key.get(), true);
  auto key = certd_test::ec_key();
  auto req = certd_test::build_csr(key.get(), {"CN=leaf"});
  X509_EXTENSION* skid =
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_key_identifier, "00112233");
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, skid);
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  REQUIRE(X509_REQ_sign(req.get(), key.get(), EVP_sha256()) > 0);
  CertTemplate t{req.get(), nullptr, 30, ca.get(), std::time(nullptr)};
  auto cert = prepare_certificate(t);
  REQUIRE(cert);
  CHECK(X509_get_ext_count(cert->get()) == 2);  // the CSR's SKID and an AKID
  CHECK(certd_test::extension_text(cert->get(), NID_subject_key_identifier) == "00:11:22:33");
}

TEST_CASE("CSRs that repeat an extension are refused", "[unit]") {
  auto key = certd_test::ec_key();
  auto req = certd_test::build_csr(key.get(), {"CN=leaf", "", "", "", "DNS:a.example.test"});
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(
      exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:a.example.test"));
  sk_X509_EXTENSION_push(
      exts, X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, "DNS:b.example.test"));
  // A fresh request with both SANs (X509_REQ_add_extensions appends one attribute).
  auto twice = certd_test::build_csr(key.get(), {"CN=leaf"});
  X509_REQ_add_extensions(twice.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  REQUIRE(X509_REQ_sign(twice.get(), key.get(), EVP_sha256()) > 0);
  auto parsed = parse_csr(certd_test::csr_pem(twice.get()));
  REQUIRE(!parsed);
  CHECK_THAT(parsed.error().message,
             Catch::Contains("the CSR repeats the extension X509v3 Subject Alternative Name"));
}

TEST_CASE("chains are parsed with limits", "[unit]") {
  auto key = certd_test::ec_key();
  auto ca = ca_cert(key.get(), true);
  std::string one = to_pem(ca.get());
  std::string many;
  for (size_t i = 0; i < kMaxChainCerts; ++i) many += one;
  CHECK(parse_chain(many)->size() == kMaxChainCerts);
  auto too_many = parse_chain(many + one);
  REQUIRE(!too_many);
  CHECK_THAT(too_many.error().message, Catch::Contains("more than 16 certificates"));
  CHECK(!parse_chain(""));
  CHECK(!parse_chain(one.substr(0, one.size() / 2)));
  CHECK(!parse_chain(one + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
}
