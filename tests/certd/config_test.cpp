// certd's config: every certd.toml upstream's `config apply` produces loads; mistakes name the
// file, line and key. Also the id and file-name rules of the store.
#include "certd/config.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "certd/store.h"
#include "tests/support/harness.h"

using namespace certd;

TEST_CASE("every upstream certd config from config apply loads", "[unit]") {
  std::string root = std::string(EDGE_SOURCE_DIR) + "/../shared/conformance";
  int loaded = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.path().filename() != "certd.toml") continue;
    auto config = parse_config(edge::test::read_file(entry.path()), entry.path());
    INFO(entry.path() << ": " << (config ? "" : config.error().message));
    CHECK(config);
    if (config && entry.path().parent_path().filename() == "manual-x509-est-custom-http")
      CHECK_THAT(config->warnings.at(0), Catch::Contains("unencrypted HTTP"));
    ++loaded;
  }
  CHECK(loaded >= 30);
}

TEST_CASE("the upstream example config decodes field by field", "[unit]") {
  auto c = parse_config(R"(
homedir_path = "/var/lib/aziot/certd"
max_requests = 50

[cert_issuance]
device-ca = { method = "est", common_name = "custom-name" }
module-id = { method = "self_signed", expiry_days = 90, common_name = "custom-name"}
module-server = { method = "local_ca" }

[cert_issuance.device-id]
method = "est"
url = "https://estendpoint.com/.well-known/est/device-id/"
username = "username"
password = "password"
identity_cert = "device-id"
identity_pk = "device-id"
bootstrap_identity_cert = "bootstrap"
bootstrap_identity_pk = "bootstrap"
expiry_days = 365
subject = { "L" = "AQ", "ST" = "Antarctica", "CN" = "test-device" }

[cert_issuance.local_ca]
cert = "local-ca"
pk = "local-ca-key"

[cert_issuance.est]
identity_cert = "est-id"
identity_pk = "est-id"
trusted_certs = ["est-ca"]

[cert_issuance.est.identity_auto_renew]
rotate_key = true
threshold = "50%"
retry = "10%"

[cert_issuance.est.urls]
default = "https://estendpoint.com/.well-known/est/"

[preloaded_certs]
bootstrap = "file:///var/secrets/bootstrap.cer"
spaced = "file:///var/secrets/my%20cert.pem"
trust-bundle = ["est-ca", "bootstrap"]

[[principal]]
uid = 1000
certs = ["test"]

[[principal]]
uid = 1001
certs = ["aziot-edged/module/*"]
)",
                        "certd.toml");
  INFO((c ? "" : c.error().message));
  REQUIRE(c);
  CHECK(c->homedir_path == "/var/lib/aziot/certd");
  CHECK(c->max_requests == 50);
  CHECK(c->cert_issuance.certs.size() == 4);
  CHECK(c->cert_issuance.certs.at("module-id").method == Method::SelfSigned);
  CHECK(*c->cert_issuance.certs.at("module-id").expiry_days == 90);
  CHECK(*c->cert_issuance.certs.at("module-id").subject == Subject{{"CN", "custom-name"}});
  CHECK(c->cert_issuance.certs.at("module-server").method == Method::LocalCa);
  CHECK(!c->cert_issuance.certs.at("module-server").expiry_days);
  const auto& dev = c->cert_issuance.certs.at("device-id");
  CHECK(dev.method == Method::Est);
  CHECK(*dev.est_url == "https://estendpoint.com/.well-known/est/device-id/");
  CHECK(*dev.est_auth.bootstrap_identity_pk == "bootstrap");
  CHECK(dev.est_auth.password->view() == "password");
  CHECK(*dev.subject == Subject{{"CN", "test-device"}, {"L", "AQ"}, {"ST", "Antarctica"}});
  CHECK(c->cert_issuance.local_ca->cert == "local-ca");
  CHECK(c->cert_issuance.local_ca->pk == "local-ca-key");
  CHECK(c->cert_issuance.est->threshold == "50%");
  CHECK(c->cert_issuance.est->trusted_certs == std::vector<std::string>{"est-ca"});
  CHECK(std::get<std::string>(c->preloaded_certs.at("bootstrap")) == "/var/secrets/bootstrap.cer");
  CHECK(std::get<std::string>(c->preloaded_certs.at("spaced")) == "/var/secrets/my cert.pem");
  CHECK(std::get<std::vector<std::string>>(c->preloaded_certs.at("trust-bundle")).size() == 2);
  CHECK(c->endpoint == "unix:///run/aziot/certd.sock");
  CHECK(c->keyd_endpoint == "unix:///run/aziot/keyd.sock");
  CHECK(authorized(*c, 1000, "test"));
  CHECK(!authorized(*c, 1000, "test2"));
  CHECK(authorized(*c, 1001, "aziot-edged/module/edgeHub:1:server"));
  CHECK(!authorized(*c, 1001, "aziot-edged-ca"));
  CHECK(authorized(*c, 0, "anything"));
}

TEST_CASE("configured common names are cut at 64 characters not bytes", "[unit]") {
  std::string long_cn =
      std::string(63, 'a') + "\xc3\xa1" + "a";  // 65 characters, the 64th two bytes long
  auto c = parse_config(
      "homedir_path = \"/h\"\n[cert_issuance.x]\nmethod = \"self_signed\"\ncommon_name = \"" +
          long_cn + "\"\n[cert_issuance.y]\nmethod = \"self_signed\"\nsubject = { CN = \"" +
          long_cn + "\", L = \"" + long_cn + "\" }\n",
      "certd.toml");
  REQUIRE(c);
  std::string cut = std::string(63, 'a') + "\xc3\xa1";
  CHECK(c->cert_issuance.certs.at("x").subject->at(0).second == cut);
  CHECK(*c->cert_issuance.certs.at("y").subject == Subject{{"CN", cut}, {"L", long_cn}});
}

TEST_CASE("config mistakes are refused with file line and key", "[unit]") {
  struct Case {
    std::string toml, message;
  };
  std::vector<Case> cases = {
      {"", "key \"homedir_path\": missing required key"},
      {"homedir_path = \"/h\"\nhomedir = \"/x\"\n",
       "certd.toml:2:11: key \"homedir\": unknown key"},
      {"homedir_path = \"/h\"\nmax_requests = 0\n",
       "key \"max_requests\": value 0 is out of range"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"magic\"\n",
       "certd.toml:3:10: key \"cert_issuance.a.method\": expected \"self_signed\", \"local_ca\" or "
       "\"est\""},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nexpiry_days = 3\n",
       "key \"cert_issuance.a.method\": missing required key"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"self_signed\"\nexpiry_days = 0\n",
       "key \"cert_issuance.a.expiry_days\": value 0 is out of range 1..1000000"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"self_signed\"\ncommon_name = "
       "\"x\"\nsubject = { CN = \"y\" }\n",
       "set either common_name or subject, not both"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"self_signed\"\nsubject = { NOPE = "
       "\"y\" }\n",
       "key \"cert_issuance.a.subject.NOPE\": unknown subject attribute"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"self_signed\"\nsubject = { C = "
       "\"USA\" }\n",
       "key \"cert_issuance.a.subject.C\": not a valid value for this subject attribute"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"est\"\nusername = \"u\"\n",
       "EST basic auth needs both username and password"},
      {"homedir_path = \"/h\"\n[cert_issuance.a]\nmethod = \"est\"\nurl = \"ftp://x\"\n",
       "expected an https:// URL"},
      {"homedir_path = \"/h\"\n[cert_issuance.est.identity_auto_renew]\nthreshold = \"101%\"\n",
       "key \"cert_issuance.est.identity_auto_renew.threshold\": expected"},
      {"homedir_path = \"/h\"\n[cert_issuance.local_ca]\ncert = \"c\"\n",
       "key \"cert_issuance.local_ca.pk\": missing required key"},
      {"homedir_path = \"/h\"\n[preloaded_certs]\na = \"https://x/y.pem\"\n",
       "key \"preloaded_certs.a\": expected a file:// URI with an absolute path"},
      {"homedir_path = \"/h\"\n[preloaded_certs]\na = \"file://relative/y.pem\"\n",
       "expected a file:// URI"},
      {"homedir_path = \"/h\"\n[preloaded_certs]\na = 5\n",
       "expected a file:// URI or an array of cert ids"},
      {"homedir_path = \"/h\"\n[preloaded_certs]\na = [\"b\"]\nb = [\"a\"]\n",
       "bundles cannot nest"},
      {"homedir_path = \"/h\"\n[[principal]]\ncerts = [\"x\"]\n",
       "key \"principal.uid\": missing required key"},
      {"homedir_path = \"/h\"\n[[principal]]\nuid = 5\ncerts = \"x\"\n",
       "key \"principal.certs\": expected an array"},
      {"homedir_path = \"/h\"\n[endpoints]\naziot_identityd = \"unix:///x\"\n",
       "key \"endpoints.aziot_identityd\": unknown key"},
  };
  for (const auto& c : cases) {
    auto r = parse_config(c.toml, "certd.toml");
    INFO(c.toml);
    REQUIRE(!r);
    CHECK_THAT(r.error().message, Catch::Contains(c.message));
  }
  CHECK(valid_renewal_policy("1%"));
  CHECK(valid_renewal_policy("99%"));
  CHECK(valid_renewal_policy("100min"));
  CHECK(valid_renewal_policy("10day"));
  for (const char* bad : {"0%", "100%", "0min", "1year", "%", "day", "-5min", "5 min"})
    CHECK(!valid_renewal_policy(bad));
}

TEST_CASE("cert ids and their file names", "[unit]") {
  CHECK(cert_file_path("/h", "aziot-edged/module/$edgeHub:1:server") ==
        "/h/certs/aziotedgedmoduleedgeHub1server-" +
            edge::crypto::hex(edge::crypto::sha256("aziot-edged/module/$edgeHub:1:server")) +
            ".cer");
  for (const char* ok :
       {"a", "aziot-edged-ca", "aziot-edged/module/m:1:server", "a..b", "x/.hidden", "trailing/"})
    CHECK(validate_cert_id(ok));
  for (std::string bad :
       {std::string(), std::string("/abs"), std::string(".."), std::string("a/../b"),
        std::string("./a"), std::string("a/."), std::string("tab\tid"), std::string("nul\0id", 6),
        std::string(257, 'x')}) {
    INFO(bad);
    CHECK(!validate_cert_id(bad));
  }
  CHECK(validate_cert_id(std::string(256, 'x')));
}
