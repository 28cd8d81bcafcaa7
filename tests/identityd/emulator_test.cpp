// identityd end to end against the project's IoT Hub / DPS emulator (iothub-emulator), keyd and
// tinyproxy: manual and DPS provisioning, module identities in the hub registry, MQTT connects
// with the resulting credentials, proxies, offline restarts and hub errors.
// Skipped (with a warning) when the emulator is not built.
#include "tests/identityd/emulator.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <random>
#include <set>
#include <thread>

#include "common/base64.h"
#include "common/cloud/https_client.h"
#include "common/crypto.h"
#include "identityd/cloud.h"
#include "tests/identityd/fixture.h"
#include "tests/identityd/pki.h"

using namespace identityd_test;
using edge::http::Json;

TEST_CASE("emulator manual sas device and module identities in the hub", "[emulator]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  auto dev = emu.admin("POST", "/admin/devices", Json{{"deviceId", "dev1"}, {"edge", true}});
  std::string key = key_of(dev["connectionString"]);
  auto d = identityd_for(emu, manual_sas(emu.host) + default_principals(), key);
  d->start_identityd();

  // Reconcile created the principal's module; its keys are keyd-derived and the hub holds them.
  auto r = d->call_as(1002, "GET", api("/identities/identity"));
  INFO(r.body << "\n" << d->identityd_log());
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["moduleId"] == "mod1");
  CHECK(r.json["spec"]["hubName"] == emu.host);
  std::string gen = r.json["spec"]["genId"];
  CHECK(!gen.empty());
  std::string handle = r.json["spec"]["auth"]["keyHandle"];
  auto hub = emu.device_call("dev1", key, "GET", "/devices/dev1/modules/mod1");
  REQUIRE(hub.status == 200);
  auto hub_module = Json::parse(hub.body);
  CHECK(hub_module["generationId"] == gen);
  CHECK(hub_module["authentication"]["symmetricKey"]["primaryKey"] == export_key(*d, handle));

  // The module's credentials connect to the emulator's MQTT endpoint.
  CHECK(mqtt_publish(*d, emu, "dev1", "mod1", handle, "from-mod1") == 0);
  CHECK(telemetry_has(emu, "dev1", "from-mod1"));
  // And the device's own.
  auto device = d->call("GET", api("/identities/identity"));
  CHECK(mqtt_publish(*d, emu, "dev1", "", device.json["spec"]["auth"]["keyHandle"], "from-dev1") ==
        0);

  // create / get / update / list / delete
  r = d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m2"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::string m2_gen = r.json["spec"]["genId"];
  std::string m2_key = export_key(*d, r.json["spec"]["auth"]["keyHandle"]);
  hub = emu.device_call("dev1", key, "GET", "/devices/dev1/modules/m2");
  REQUIRE(hub.status == 200);
  CHECK(Json::parse(hub.body)["authentication"]["symmetricKey"]["primaryKey"] == m2_key);
  r = d->call("GET", api("/identities/modules/m2?type=aziot"));
  REQUIRE(r.status == 200);
  CHECK(export_key(*d, r.json["spec"]["auth"]["keyHandle"]) == m2_key);
  // PUT (update) as upstream: the keys are derived again from the module's current generation
  // id, which IoT Hub does not change on update, so generation and keys stay and the hub holds
  // the same key; the keys only change when the module is deleted and created again (below).
  r = d->call("PUT", api("/identities/modules/m2?type=aziot"), Json::object());
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["genId"] == m2_gen);
  CHECK(export_key(*d, r.json["spec"]["auth"]["keyHandle"]) == m2_key);
  hub = emu.device_call("dev1", key, "GET", "/devices/dev1/modules/m2");
  CHECK(Json::parse(hub.body)["authentication"]["symmetricKey"]["primaryKey"] == m2_key);
  CHECK(Json::parse(hub.body)["generationId"] == m2_gen);
  // An empty body is 422 and changes nothing, as upstream (the body must be JSON, then ignored).
  CHECK(d->call("PUT", api("/identities/modules/m2?type=aziot")).status == 422);
  r = d->call("GET", api("/identities/modules?type=aziot"));
  REQUIRE(r.status == 200);
  std::set<std::string> ids;
  for (const auto& i : r.json["identities"]) {
    ids.insert(i["spec"]["moduleId"].get<std::string>());
    CHECK(!i["spec"].contains("auth"));
  }
  CHECK(ids.contains("mod1"));
  CHECK(ids.contains("m2"));
  CHECK(d->call("DELETE", api("/identities/modules/m2?type=aziot")).status == 204);
  CHECK(emu.device_call("dev1", key, "GET", "/devices/dev1/modules/m2").status == 404);
  // Re-created after delete: a new generation id, hence new keys.
  r = d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m2"}});
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["genId"] != m2_gen);
  CHECK(export_key(*d, r.json["spec"]["auth"]["keyHandle"]) != m2_key);

  // Hub errors: a module the hub does not have, then a device the hub no longer knows.
  r = d->call("PUT", api("/identities/modules/ghost?type=aziot"), Json::object());
  CHECK(r.status == 404);
  CHECK(r.json["message"].get<std::string>().find("404") != std::string::npos);
  emu.admin("DELETE", "/admin/devices/dev1");
  r = d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m3"}});
  CHECK(r.status == 404);
  CHECK(r.json["message"].get<std::string>().find("IoT Hub") != std::string::npos);
  CHECK(d->call("GET", api("/identities/identity")).status == 200);
  CHECK(d->identityd_log().find(edge::base64::encode(key)) == std::string::npos);
}

TEST_CASE("emulator wrong device key gets the hub 401 named", "[emulator]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  emu.admin("POST", "/admin/devices", Json{{"deviceId", "dev1"}});
  auto d = identityd_for(emu, manual_sas(emu.host), std::string(32, 'w'));
  d->start_identityd();
  auto r = d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m1"}});
  CHECK(r.status == 404);
  CHECK(r.json["message"].get<std::string>().find("401") != std::string::npos);
}

TEST_CASE("emulator dps symmetric key individual and group with payload", "[emulator]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  std::string scope = emu.info["idScope"];
  auto dps = [&](const std::string& reg, const std::string& payload) {
    return "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
           "/\"\nscope_id = \"" + scope + "\"\n" + payload +
           "[provisioning.attestation]\nmethod = \"symmetric_key\"\nregistration_id = \"" + reg +
           "\"\nsymmetric_key = \"device-id\"\n";
  };
  SECTION("individual enrollment, payload echoed, device connects over MQTT") {
    auto e = emu.admin("POST", "/admin/enrollments",
                       Json{{"registrationId", "reg1"}, {"iotEdge", true}});
    std::string key = edge::base64::decode(e["primaryKey"].get<std::string>()).value();
    edge::test::TempDir tmp;
    edge::test::write_file(tmp / "payload.json", R"({"modelId":"dtmi:test;1","site":42})");
    auto d = identityd_for(
        emu,
        dps("reg1", "payload = { uri = \"file://" + tmp.path() + "/payload.json\" }\n") +
            default_principals(),
        key);
    d->start_identityd();
    auto r = d->call("GET", api("/identities/provisioning"));
    INFO(r.body << "\n" << d->identityd_log());
    REQUIRE(r.status == 200);
    CHECK(r.json["source"] == "dps");
    CHECK(r.json["auth"] == "symmetric_key");
    CHECK(r.json["registration_id"] == "reg1");
    CHECK(r.json["scope_id"] == scope);
    CHECK(r.json["payload"]["site"] == 42);
    r = d->call("GET", api("/identities/identity"));
    REQUIRE(r.status == 200);
    CHECK(r.json["spec"]["hubName"] == emu.host);
    CHECK(r.json["spec"]["deviceId"] == "reg1");
    CHECK(mqtt_publish(*d, emu, "reg1", "", r.json["spec"]["auth"]["keyHandle"], "dps-device") ==
          0);
    CHECK(telemetry_has(emu, "reg1", "dps-device"));
    // The principal's module exists in the assigned hub.
    CHECK(emu.device_call("reg1", key, "GET", "/devices/reg1/modules/mod1").status == 200);

    // Offline restart: the saved result is used, and the log says so.
    emu.stop();
    d->stop_identityd();
    d->start_identityd();
    CHECK(d->identityd_log().find("saved provisioning state") != std::string::npos);
    CHECK(d->call("GET", api("/identities/identity")).json["spec"]["deviceId"] == "reg1");
    CHECK(d->call_as(1002, "GET", api("/identities/identity")).status ==
          200);  // module from the saved state
    CHECK(d->call("POST", api("/identities/device/reprovision")).status == 404);
    // The hub (and DPS) come back: reprovisioning works.
    emu.start();
    auto rp = d->call("POST", api("/identities/device/reprovision"));
    INFO(rp.body);
    CHECK(rp.status == 204);
    CHECK(d->call("GET", api("/identities/identity")).json["spec"]["deviceId"] == "reg1");
  }
  SECTION("group enrollment with a derived device key") {
    auto g =
        emu.admin("POST", "/admin/enrollment-groups", Json{{"groupId", "grp"}, {"iotEdge", true}});
    std::string group_key = edge::base64::decode(g["primaryKey"].get<std::string>()).value();
    std::string derived = edge::crypto::hmac_sha256(group_key, "grp-dev7").value();
    auto d = identityd_for(emu, dps("grp-dev7", ""), derived);
    d->start_identityd();
    auto r = d->call("GET", api("/identities/identity"));
    INFO(d->identityd_log());
    REQUIRE(r.status == 200);
    CHECK(r.json["spec"]["deviceId"] == "grp-dev7");
    CHECK(mqtt_publish(*d, emu, "grp-dev7", "", r.json["spec"]["auth"]["keyHandle"],
                       "group-device") == 0);
  }
  SECTION("DPS refuses a wrong key: startup fails naming DPS") {
    emu.admin("POST", "/admin/enrollments", Json{{"registrationId", "reg2"}});
    auto d = identityd_for(emu, dps("reg2", ""), std::string(32, 'x'));
    CHECK(d->start_identityd_expect_exit() == 1);
    CHECK(d->identityd_log().find("DPS answered 401") != std::string::npos);
  }
}

TEST_CASE("emulator hub calls through tinyproxy", "[emulator][proxy]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  auto dev = emu.admin("POST", "/admin/devices", Json{{"deviceId", "dev1"}});
  std::string key = key_of(dev["connectionString"]);
  edge::test::TempDir pdir;
  Tinyproxy proxy(pdir.path(), "proxyuser", "proxypass");
  auto d = identityd_for(emu, manual_sas(emu.host), key);

  SECTION("with credentials") {
    d->env["https_proxy"] = proxy.url("proxyuser:proxypass");
    d->start_identityd();
    auto r = d->call("POST", api("/identities/modules"),
                     Json{{"type", "aziot"}, {"moduleId", "viaproxy"}});
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(proxy.log().find("CONNECT " + emu.host + ":443") != std::string::npos);
    CHECK(d->identityd_log().find("proxypass") == std::string::npos);
  }
  SECTION("wrong or missing credentials fail fast naming the proxy answer") {
    for (auto [creds, status] :
         {std::pair{std::string("proxyuser:nope"), "401"}, std::pair{std::string(), "407"}}) {
      d->env["HTTPS_PROXY"] = proxy.url(creds);
      d->start_identityd();
      auto start = std::chrono::steady_clock::now();
      auto r = d->call("POST", api("/identities/modules"),
                       Json{{"type", "aziot"}, {"moduleId", "blocked"}});
      CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
      CHECK(r.status == 404);
      INFO(r.body);
      CHECK(r.json["message"].get<std::string>().find(std::string("refused CONNECT ") + emu.host +
                                                      ":443: " + status) != std::string::npos);
      d->stop_identityd();
    }
  }
  SECTION("no_proxy bypasses the proxy") {
    d->env["https_proxy"] = proxy.url("proxyuser:nope");
    d->env["no_proxy"] = "localhost," + emu.host;
    d->start_identityd();
    auto r = d->call("POST", api("/identities/modules"),
                     Json{{"type", "aziot"}, {"moduleId", "direct"}});
    CHECK(r.status == 200);
    CHECK(proxy.log().find("CONNECT " + emu.host) == std::string::npos);
  }
}

namespace {
bool have_certd() {
  if (certd_bin().empty()) {
    WARN("aziot-certd not built: skipped");
    return false;
  }
  return true;
}

// An X.509 identity issued by the emulator's CA, preloaded in keyd (key) and certd (cert).
struct X509Identity {
  std::string cert_pem, key_pem, thumbprint, cert_file, key_file;
  X509Identity(Emulator& emu, const edge::test::TempDir& dir, const std::string& cn) {
    auto c = emu.admin("POST", "/admin/certificates", Json{{"commonName", cn}});
    cert_pem = c["certificate"];
    key_pem = c["privateKey"];
    thumbprint = c["thumbprint"];
    cert_file = dir / (cn + ".pem");
    key_file = dir / (cn + ".key.pem");
    edge::test::write_file(cert_file, cert_pem);
    edge::test::write_file(key_file, key_pem, 0600);
  }
  std::string keyd_extra() const {
    return "[preloaded_keys]\ndevice-id = \"file://" + key_file + "\"\n";
  }
  std::string certd_config() const {
    return "[preloaded_certs]\ndevice-id = \"file://" + cert_file + "\"\n";
  }
};

int mqtt_publish_x509(Emulator& emu, const X509Identity& id, const std::string& device,
                      const std::string& payload) {
  std::string out;
  int rc = edge::test::run("mosquitto_pub -V mqttv311 -h " + emu.host + " -p 8883 --cafile " +
                               emu.ca() + " --cert " + id.cert_file + " --key " + id.key_file +
                               " -i '" + device + "' -u '" + emu.host + "/" + device +
                               "/?api-version=2021-04-12' -t 'devices/" + device +
                               "/messages/events/' -m '" + payload + "' -q 1 2>&1",
                           &out);
  INFO(out);
  return rc;
}
}  // namespace

TEST_CASE("emulator manual x509 device creates modules over TLS client auth", "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (!have_certd()) return;
  Emulator emu;
  edge::test::TempDir files;
  X509Identity id(emu, files, "devx");
  emu.admin("POST", "/admin/devices",
            Json{{"deviceId", "devx"}, {"x509Thumbprint", id.thumbprint}});
  std::string config =
      "[provisioning]\nsource = \"manual\"\niothub_hostname = \"" + emu.host +
      "\"\ndevice_id = \"devx\"\n[provisioning.authentication]\nmethod = \"x509\"\n"
      "identity_cert = \"device-id\"\nidentity_pk = \"device-id\"\n" +
      default_principals();
  Daemons d(config, false, id.keyd_extra(), id.certd_config());
  d.env["SSL_CERT_FILE"] = emu.ca();
  d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
  d.start_identityd();
  auto r = d.call("GET", api("/identities/identity"));
  INFO(r.body << "\n" << d.identityd_log());
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["auth"]["type"] == "x509");
  CHECK(r.json["spec"]["auth"]["certId"] == "device-id");
  CHECK(!r.json["spec"]["auth"]["keyHandle"].get<std::string>().empty());
  CHECK(d.call("GET", api("/identities/provisioning")).json ==
        Json{{"source", "manual"}, {"auth", "x509"}});
  // The principal's module was created by identityd authenticating with the certificate.
  r = d.call_as(1002, "GET", api("/identities/identity"));
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["moduleId"] == "mod1");
  r = d.call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "xm2"}});
  CHECK(r.status == 200);
  CHECK(mqtt_publish_x509(emu, id, "devx", "x509-device") == 0);
  CHECK(telemetry_has(emu, "devx", "x509-device"));
}

TEST_CASE("emulator dps x509 registration id from the certificate", "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (!have_certd()) return;
  Emulator emu;
  edge::test::TempDir files;
  X509Identity id(emu, files, "regx");
  emu.admin("POST", "/admin/enrollments",
            Json{{"registrationId", "regx"}, {"type", "x509"}, {"certificate", id.cert_pem}});
  std::string config = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
                       "/\"\nscope_id = \"" + emu.info["idScope"].get<std::string>() +
                       "\"\n[provisioning.attestation]\nmethod = \"x509\"\nidentity_cert = "
                       "\"device-id\"\nidentity_pk = \"device-id\"\n" +
                       default_principals();
  Daemons d(config, false, id.keyd_extra(), id.certd_config());
  d.env["SSL_CERT_FILE"] = emu.ca();
  d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
  d.start_identityd();
  auto r = d.call("GET", api("/identities/provisioning"));
  INFO(r.body << "\n" << d.identityd_log());
  REQUIRE(r.status == 200);
  CHECK(r.json["auth"] == "x509");
  CHECK(r.json["registration_id"] == "regx");
  r = d.call("GET", api("/identities/identity"));
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["deviceId"] == "regx");
  CHECK(r.json["spec"]["auth"]["type"] == "x509");
  CHECK(d.call_as(1002, "GET", api("/identities/identity")).status == 200);
  CHECK(mqtt_publish_x509(emu, id, "regx", "dps-x509") == 0);
}

TEST_CASE("local identities are issued by certd", "[integration][certd]") {
  if (!have_certd()) return;
  const auto& k = pki();
  std::string config =
      "[provisioning]\nsource = \"none\"\n[localid]\ndomain = \"example.com\"\n"
      "[[principal]]\nuid = 1004\nname = \"loc1\"\nidtype = [\"local\"]\n"
      "localid = { type = \"x509\", attributes = \"server\" }\n";
  Daemons d(config, false, "[preloaded_keys]\nlocal-ca = \"file://" + k.dir + "/ca.key\"\n",
            "[cert_issuance.local_ca]\ncert = \"local-ca\"\npk = "
            "\"local-ca\"\n[cert_issuance.loc1]\nmethod = \"local_ca\"\n"
            "[cert_issuance.loc2]\nmethod = \"local_ca\"\n[preloaded_certs]\nlocal-ca = \"file://" +
                k.dir + "/ca.pem\"\n");
  d.start_identityd();
  auto r = d.call_as(1004, "GET", api("/identities/identity"));
  INFO(r.body << "\n" << d.identityd_log());
  REQUIRE(r.status == 200);
  CHECK(r.json["type"] == "local");
  CHECK(r.json["spec"]["moduleId"] == "loc1");
  std::string cert = r.json["spec"]["auth"]["certificate"];
  CHECK(r.json["spec"]["auth"]["privateKey"].get<std::string>().starts_with(
      "-----BEGIN PRIVATE KEY-----"));
  CHECK(r.json["spec"]["auth"]["expiration"].get<std::string>().ends_with("Z"));
  edge::test::write_file(d.dir / "loc1.pem", cert);
  std::string out;
  CHECK(edge::test::run("openssl verify -CAfile " + k.dir + "/ca.pem " + (d.dir / "loc1.pem"),
                        &out) == 0);
  edge::test::run(
      "openssl x509 -in " + (d.dir / "loc1.pem") + " -noout -subject -ext extendedKeyUsage 2>&1",
      &out);
  CHECK(out.find("loc1.testhost.example.com") != std::string::npos);
  CHECK(out.find("TLS Web Server Authentication") != std::string::npos);
  // The device identity does not exist with source none; another uid cannot get loc1.
  CHECK(d.call("GET", api("/identities/identity")).status == 400);
  CHECK(d.call_as(1005, "GET", api("/identities/modules/loc1?type=local")).status == 401);
  r = d.call("POST", api("/identities/modules"),
             Json{{"type", "local"},
                  {"moduleId", "loc2"},
                  {"localIdOpts", {{"type", "x509"}, {"attributes", "client"}}}});
  CHECK(r.status == 200);
  // certd has no issuance rule for this one: the certd error is reported.
  r = d.call("POST", api("/identities/modules"), Json{{"type", "local"}, {"moduleId", "loc3"}});
  CHECK(r.status == 404);
  CHECK(r.json["message"].get<std::string>().find("certd") != std::string::npos);
}

TEST_CASE("emulator manual x509 identity issued by certd from a local CA", "[emulator][certd]") {
  REQUIRE_EMULATOR();
  if (!have_certd()) return;
  Emulator emu;
  const auto& k = pki();
  emu.admin("POST", "/admin/certificate-authorities",
            Json{{"name", "local-ca"}, {"certificate", k.ca_pem()}});
  emu.admin("POST", "/admin/devices", Json{{"deviceId", "devi"}, {"certificateAuthority", true}});
  std::string config =
      "[provisioning]\nsource = \"manual\"\niothub_hostname = \"" + emu.host +
      "\"\ndevice_id = \"devi\"\n[provisioning.authentication]\nmethod = \"x509\"\n"
      "identity_cert = \"device-id\"\nidentity_pk = \"device-id\"\n" +
      default_principals();
  Daemons d(config, false, "[preloaded_keys]\nlocal-ca = \"file://" + k.dir + "/ca.key\"\n",
            "[cert_issuance.local_ca]\ncert = \"local-ca\"\npk = "
            "\"local-ca\"\n[cert_issuance.device-id]\nmethod = \"local_ca\"\n"
            "[preloaded_certs]\nlocal-ca = \"file://" +
                k.dir + "/ca.pem\"\n");
  d.env["SSL_CERT_FILE"] = emu.ca();
  d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
  d.start_identityd();
  auto r = d.call("GET", api("/identities/identity"));
  INFO(r.body << "\n" << d.identityd_log());
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["auth"]["type"] == "x509");
  CHECK(d.identityd_log().find("certd issued the identity certificate device-id") !=
        std::string::npos);
  // The reconcile reached the hub with the issued certificate.
  r = d.call_as(1002, "GET", api("/identities/identity"));
  CHECK(r.status == 200);
  CHECK(d.call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "im2"}})
            .status == 200);
  // certd holds it: CN = device id, signed by the local CA.
  edge::http::UnixClient certd(d.dir / "certd.sock");
  auto c = edge::test::call(certd, "GET", "/certificates/device-id?api-version=2020-09-01");
  REQUIRE(c.status == 200);
  edge::test::write_file(d.dir / "issued.pem", c.json["pem"].get<std::string>());
  std::string out;
  CHECK(edge::test::run("openssl verify -CAfile " + k.dir + "/ca.pem " + (d.dir / "issued.pem"),
                        &out) == 0);
  edge::test::run("openssl x509 -in " + (d.dir / "issued.pem") + " -noout -subject", &out);
  CHECK(out.find("CN = devi") != std::string::npos);
}

TEST_CASE("emulator dynamic mode reprovisions once when the hub lost the device", "[emulator]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  auto e = emu.admin("POST", "/admin/enrollments", Json{{"registrationId", "regd"}});
  std::string key = edge::base64::decode(e["primaryKey"].get<std::string>()).value();
  std::string config =
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
      "/\"\nscope_id = \"" + emu.info["idScope"].get<std::string>() +
      "\"\n[provisioning.attestation]\nmethod = \"symmetric_key\"\nregistration_id = \"regd\"\n"
      "symmetric_key = \"device-id\"\n" +
      default_principals();
  auto d = identityd_for(emu, config, key);
  d->start_identityd();
  CHECK(emu.device_call("regd", key, "GET", "/devices/regd/modules/mod1").status == 200);
  d->stop_identityd();
  emu.admin("DELETE", "/admin/devices/regd");
  d->start_identityd();  // saved state first; the reconcile's hub error triggers one reprovision
  INFO(d->identityd_log());
  CHECK(d->identityd_log().find("reprovisioning once") != std::string::npos);
  CHECK(emu.device_call("regd", key, "GET", "/devices/regd/modules/mod1").status == 200);
  CHECK(d->call_as(1002, "GET", api("/identities/identity")).status == 200);
}
