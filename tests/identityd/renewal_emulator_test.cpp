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

// An emulator with a DPS X.509 group enrollment for the test CA, keyd + certd (local CA) and
// identityd configured for `registration_id` with `auto_renew`; the current identity is a keyd
// key pair "device-id" with a certificate valid [now + from_s, now + to_s] in certd.
struct Renewal {
  Renewal(const std::string& registration_id, const std::string& auto_renew,
          const std::string& certd_rules, long from_s, long to_s)
      : d(config(registration_id, auto_renew), false,
          "[preloaded_keys]\nlocal-ca = \"file://" + pki().dir + "/ca.key\"\n",
          "[cert_issuance.local_ca]\ncert = \"local-ca\"\npk = \"local-ca\"\n" + certd_rules +
              "[preloaded_certs]\nlocal-ca = \"file://" + pki().dir + "/ca.pem\"\n") {
    emu.admin("POST", "/admin/enrollment-groups",
              Json{{"groupId", "renew-group"}, {"type", "x509"}, {"certificate", pki().ca_pem()}});
    d.env["SSL_CERT_FILE"] = emu.ca();
    d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
    auto kp = d.keyd("POST", "/keypair",
                     Json{{"keyId", "device-id"}, {"preferredAlgorithms", "rsa-2048"}});
    REQUIRE(kp.status == 200);
    auto key = identityd::keyd_private_key(d.keyd_socket, kp.json["keyHandle"]);
    REQUIRE(key);
    old_key = public_pem(key->get());
    old_pem = issue(registration_id, key->get(), from_s, to_s);
    REQUIRE(edge::test::call(certd, "PUT", "/certificates/device-id?api-version=2020-09-01",
                             Json{{"pem", old_pem}})
                .status == 201);
  }
  std::string config(const std::string& registration_id, const std::string& auto_renew) {
    return "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
           "/\"\nscope_id = \"" + emu.info["idScope"].get<std::string>() +
           "\"\n[provisioning.attestation]\nmethod = \"x509\"\nregistration_id = \"" +
           registration_id +
           "\"\nidentity_cert = \"device-id\"\nidentity_pk = \"device-id\"\n"
           "[provisioning.attestation.identity_auto_renew]\n" +
           auto_renew + default_principals();
  }
  std::string cert_pem() {
    auto c = edge::test::call(certd, "GET", "/certificates/device-id?api-version=2020-09-01");
    return c.status == 200 ? c.json["pem"].get<std::string>() : "";
  }
  std::string wait_for_new_cert() {
    std::string pem;
    for (int i = 0; i < 100 && (pem.empty() || pem == old_pem); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      pem = cert_pem();
    }
    return pem;
  }
  std::string keyd_public(const std::string& id) {
    auto kp = d.keyd("GET", "/keypair/" + id);
    if (kp.status != 200) return "";
    auto key = identityd::keyd_private_key(d.keyd_socket, kp.json["keyHandle"]);
    return key ? public_pem(key->get()) : "";
  }

  Emulator emu;
  Daemons d;
  edge::http::UnixClient certd{d.dir / "certd.sock"};
  std::string old_key, old_pem;
};

const char kTempRules[] =
    "[cert_issuance.device-id]\nmethod = \"local_ca\"\nexpiry_days = 1\n"
    "[cert_issuance.device-id-temp]\nmethod = \"local_ca\"\nexpiry_days = 1\n";
}  // namespace

TEST_CASE("emulator dps x509 identity certificate auto-renewal", "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (certd_bin().empty()) return;
  // The certificate is at 90% of its 2-minute life.
  Renewal t("renx", "rotate_key = true\nthreshold = \"80%\"\nretry = \"4%\"\n", kTempRules, -108,
            12);
  auto& d = t.d;
  d.start_identityd();
  REQUIRE(d.call("GET", api("/identities/identity")).status == 200);

  // Renewal happens at once (past 80%): certd holds a new one-day certificate for a new key.
  std::string new_pem = t.wait_for_new_cert();
  INFO(d.identityd_log());
  REQUIRE(new_pem != t.old_pem);
  CHECK(d.identityd_log().find("Renewed the device identity certificate device-id") !=
        std::string::npos);
  auto cert = parse_cert(new_pem);
  REQUIRE(cert);
  CHECK(X509_cmp_current_time(X509_get0_notAfter(cert.get())) > 0);
  char cn[64] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "renx");  // the old certificate's subject
  // A new key, now under the configured id; the temporary ids are gone.
  std::string cert_key = public_pem(X509_get0_pubkey(cert.get()));
  CHECK(cert_key != t.old_key);
  CHECK(t.keyd_public("device-id") == cert_key);
  CHECK(t.keyd_public("device-id-temp").empty());
  CHECK(edge::test::call(t.certd, "GET", "/certificates/device-id-temp?api-version=2020-09-01")
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

TEST_CASE("emulator dps x509 renewal without key rotation keeps the key", "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (certd_bin().empty()) return;
  Renewal t("renk", "rotate_key = false\nthreshold = \"50%\"\n", kTempRules, -100, 60);
  t.d.start_identityd();
  std::string new_pem = t.wait_for_new_cert();
  INFO(t.d.identityd_log());
  REQUIRE(new_pem != t.old_pem);
  auto cert = parse_cert(new_pem);
  REQUIRE(cert);
  CHECK(public_pem(X509_get0_pubkey(cert.get())) == t.old_key);
  CHECK(t.keyd_public("device-id") == t.old_key);
  CHECK(t.keyd_public("device-id-temp").empty());  // never made
  CHECK(t.d.call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "k1"}})
            .status == 200);
}

TEST_CASE("emulator dps x509 renewal failure keeps the old identity and retries",
          "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (certd_bin().empty()) return;
  // certd has no rule for device-id-temp: issuing the renewal fails. Lifetime 600 s, due (80%).
  Renewal t("renf", "threshold = \"80%\"\nretry = \"2%\"\n", "", -500, 100);
  auto& d = t.d;
  d.start_identityd();

  // Tried at once, then again after 2% of the lifetime (12 s).
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
  CHECK(t.cert_pem() == t.old_pem);
  CHECK(t.keyd_public("device-id") == t.old_key);
  CHECK(d.call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "still"}})
            .status == 200);
}
