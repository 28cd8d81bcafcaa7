// Device identity certificate auto-renewal end to end: a DPS X.509 group enrollment on the hub
// emulator, the identity certificate close to expiry, certd issuing the renewal from a local CA,
// keyd holding the keys; identityd renews with a new key, registers it with DPS and keeps
// serving.
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/crypto.h"
#include "identityd/keyd_key.h"
#include "tests/identityd/emulator.h"
#include "tests/identityd/fixture.h"
#include "tests/identityd/pki.h"

using namespace identityd_test;
using edge::http::Json;

namespace {
edge::crypto::X509Ptr parse_cert(const std::string& pem) {
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return edge::crypto::X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// A certificate for CN `cn` and `key`'s public half, signed by the test CA, valid from
// `from_s` to `to_s` seconds relative to now.
std::string issue(const std::string& cn, EVP_PKEY* key, long from_s, long to_s) {
  const auto& k = pki();
  auto ca_key = edge::crypto::private_key_from_pem(edge::test::read_file(k.dir + "/ca.key"));
  REQUIRE(ca_key);
  auto ca = parse_cert(k.ca_pem());
  REQUIRE(ca);
  edge::crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), from_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), to_s);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509_set_pubkey(cert.get(), key);
  REQUIRE(X509_sign(cert.get(), ca_key->get(), EVP_sha256()) > 0);
  edge::crypto::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len)) + k.ca_pem();
}

std::string public_pem(EVP_PKEY* key) { return edge::crypto::public_key_to_pem(key).value(); }
}  // namespace

TEST_CASE("emulator dps x509 identity certificate auto-renewal", "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (certd_bin().empty()) return;
  Emulator emu;
  const auto& k = pki();
  emu.admin("POST", "/admin/enrollment-groups",
            Json{{"groupId", "renew-group"}, {"type", "x509"}, {"certificate", k.ca_pem()}});
  std::string config =
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
      "/\"\nscope_id = \"" + emu.info["idScope"].get<std::string>() +
      "\"\n[provisioning.attestation]\nmethod = \"x509\"\nregistration_id = \"renx\"\n"
      "identity_cert = \"device-id\"\nidentity_pk = \"device-id\"\n"
      "[provisioning.attestation.identity_auto_renew]\nrotate_key = true\nthreshold = \"80%\"\n"
      "retry = \"4%\"\n" +
      default_principals();
  Daemons d(config, false, "[preloaded_keys]\nlocal-ca = \"file://" + k.dir + "/ca.key\"\n",
            "[cert_issuance.local_ca]\ncert = \"local-ca\"\npk = \"local-ca\"\n"
            "[cert_issuance.device-id]\nmethod = \"local_ca\"\nexpiry_days = 1\n"
            "[cert_issuance.device-id-temp]\nmethod = \"local_ca\"\nexpiry_days = 1\n"
            "[preloaded_certs]\nlocal-ca = \"file://" +
                k.dir + "/ca.pem\"\n");
  d.env["SSL_CERT_FILE"] = emu.ca();
  d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";

  // The current identity: a keyd key pair and a certificate at 90% of its 2-minute life.
  auto kp =
      d.keyd("POST", "/keypair", Json{{"keyId", "device-id"}, {"preferredAlgorithms", "rsa-2048"}});
  REQUIRE(kp.status == 200);
  auto old_key = identityd::keyd_private_key(d.keyd_socket, kp.json["keyHandle"]);
  REQUIRE(old_key);
  std::string old_pem = issue("renx", old_key->get(), -108, 12);
  edge::http::UnixClient certd(d.dir / "certd.sock");
  REQUIRE(edge::test::call(certd, "PUT", "/certificates/device-id?api-version=2020-09-01",
                           Json{{"pem", old_pem}})
              .status == 201);

  d.start_identityd();
  REQUIRE(d.call("GET", api("/identities/identity")).status == 200);

  // Renewal happens at once (past 80%): certd holds a new one-day certificate for a new key.
  std::string new_pem;
  for (int i = 0; i < 100 && (new_pem.empty() || new_pem == old_pem); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto c = edge::test::call(certd, "GET", "/certificates/device-id?api-version=2020-09-01");
    if (c.status == 200) new_pem = c.json["pem"];
  }
  INFO(d.identityd_log());
  REQUIRE(new_pem != old_pem);
  CHECK(d.identityd_log().find("Renewed the device identity certificate device-id") !=
        std::string::npos);
  auto cert = parse_cert(new_pem);
  REQUIRE(cert);
  CHECK(X509_cmp_current_time(X509_get0_notAfter(cert.get())) > 0);
  char cn[64] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "renx");  // the old certificate's subject
  // A new key, now under the configured id; the temporary ids are gone.
  EVP_PKEY* cert_key = X509_get0_pubkey(cert.get());
  CHECK(public_pem(cert_key) != public_pem(old_key->get()));
  auto kp2 = d.keyd("GET", "/keypair/device-id");
  REQUIRE(kp2.status == 200);
  auto new_key = identityd::keyd_private_key(d.keyd_socket, kp2.json["keyHandle"]);
  REQUIRE(new_key);
  CHECK(public_pem(new_key->get()) == public_pem(cert_key));
  CHECK(d.keyd("GET", "/keypair/device-id-temp").status != 200);
  CHECK(edge::test::call(certd, "GET", "/certificates/device-id-temp?api-version=2020-09-01")
            .status != 200);

  // It keeps serving, and the hub accepts the renewed certificate (after the old one expired).
  std::this_thread::sleep_for(std::chrono::seconds(13));
  CHECK(d.call("GET", api("/identities/identity")).json["spec"]["auth"]["type"] == "x509");
  auto r =
      d.call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "after"}});
  INFO(r.body);
  CHECK(r.status == 200);
  CHECK(d.call_as(1002, "GET", api("/identities/identity")).status == 200);
  // Not renewed again: the new certificate is far from its threshold.
  CHECK(d.identityd_log().find("Renewed the device identity certificate") ==
        d.identityd_log().rfind("Renewed the device identity certificate"));
}

TEST_CASE("emulator dps x509 renewal failure keeps the old identity and retries",
          "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (certd_bin().empty()) return;
  Emulator emu;
  const auto& k = pki();
  emu.admin("POST", "/admin/enrollment-groups",
            Json{{"groupId", "renew-group"}, {"type", "x509"}, {"certificate", k.ca_pem()}});
  std::string config =
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
      "/\"\nscope_id = \"" + emu.info["idScope"].get<std::string>() +
      "\"\n[provisioning.attestation]\nmethod = \"x509\"\nregistration_id = \"renf\"\n"
      "identity_cert = \"device-id\"\nidentity_pk = \"device-id\"\n"
      "[provisioning.attestation.identity_auto_renew]\nthreshold = \"80%\"\nretry = \"2%\"\n";
  // certd has no rule for device-id-temp: issuing the renewal fails.
  Daemons d(config, false, "[preloaded_keys]\nlocal-ca = \"file://" + k.dir + "/ca.key\"\n",
            "[cert_issuance.local_ca]\ncert = \"local-ca\"\npk = \"local-ca\"\n"
            "[preloaded_certs]\nlocal-ca = \"file://" +
                k.dir + "/ca.pem\"\n");
  d.env["SSL_CERT_FILE"] = emu.ca();
  d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
  auto kp =
      d.keyd("POST", "/keypair", Json{{"keyId", "device-id"}, {"preferredAlgorithms", "rsa-2048"}});
  REQUIRE(kp.status == 200);
  auto old_key = identityd::keyd_private_key(d.keyd_socket, kp.json["keyHandle"]);
  REQUIRE(old_key);
  std::string old_pem = issue("renf", old_key->get(), -500, 100);
  edge::http::UnixClient certd(d.dir / "certd.sock");
  REQUIRE(edge::test::call(certd, "PUT", "/certificates/device-id?api-version=2020-09-01",
                           Json{{"pem", old_pem}})
              .status == 201);
  d.start_identityd();

  // Tried at once, then again after 2% of the 600 s lifetime (12 s).
  auto failures = [&] {
    size_t n = 0;
    std::string log = d.identityd_log();
    for (size_t p = 0;
         (p = log.find("Failed to renew the device identity", p)) != std::string::npos; ++p)
      ++n;
    return n;
  };
  for (int i = 0; i < 100 && failures() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  INFO(d.identityd_log());
  CHECK(failures() >= 2);
  CHECK(d.identityd_log().find("retrying in 12 s") != std::string::npos);
  CHECK(d.identityd_log().find("device-id-temp") != std::string::npos);  // certd's refusal named
  // The old identity is untouched and still works with the hub.
  auto c = edge::test::call(certd, "GET", "/certificates/device-id?api-version=2020-09-01");
  CHECK(c.json["pem"] == old_pem);
  auto kp2 = d.keyd("GET", "/keypair/device-id");
  REQUIRE(kp2.status == 200);
  auto key_now = identityd::keyd_private_key(d.keyd_socket, kp2.json["keyHandle"]);
  REQUIRE(key_now);
  CHECK(public_pem(key_now->get()) == public_pem(old_key->get()));
  CHECK(d.call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "still"}})
            .status == 200);
}
