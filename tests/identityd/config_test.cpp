// identityd config parsing: upstream's keys, validation rules and clear errors.
#include "identityd/config.h"

#include <catch2/catch.hpp>

#include "identityd/service.h"

using namespace identityd;

namespace {
const std::string kHead = "hostname = \"my-device\"\nhomedir = \"/var/lib/aziot/identityd\"\n";
Config parse_ok(const std::string& text) {
  auto c = parse_config(text, "config.toml");
  INFO((c ? "" : c.error().message));
  REQUIRE(c);
  return *c;
}
std::string parse_error(const std::string& text) {
  auto c = parse_config(text, "config.toml");
  REQUIRE(!c);
  return c.error().message;
}
}  // namespace

TEST_CASE("identityd config manual sas as config apply writes it", "[unit]") {
  auto c = parse_ok(kHead + R"(prefer_module_identity_cache = true

[provisioning]
source = "manual"
iothub_hostname = "example.azure-devices.net"
device_id = "my-device"

[provisioning.authentication]
method = "sas"
device_id_pk = "device-id"
)");
  CHECK(c.hostname == "my-device");
  CHECK(c.prefer_module_identity_cache);
  CHECK(c.cloud_timeout_sec == 70);
  CHECK(c.cloud_retries == 1);
  CHECK(c.max_requests == 10);
  CHECK(c.provisioning.source == Source::Manual);
  CHECK(c.provisioning.method == AuthMethod::Sas);
  CHECK(c.provisioning.device_id_pk == "device-id");
  CHECK(c.endpoints.identityd == "unix:///run/aziot/identityd.sock");
  CHECK(c.endpoints.keyd == "unix:///run/aziot/keyd.sock");
}

TEST_CASE("identityd config every provisioning source parses", "[unit]") {
  auto x509 = parse_ok(kHead + R"([provisioning]
source = "manual"
local_gateway_hostname = "parent"
iothub_hostname = "hub.example"
device_id = "d1"
[provisioning.authentication]
method = "x509"
identity_cert = "device-id"
identity_pk = "device-id"
csr_subject = { CN = "d1", L = "AQ" }
)");
  CHECK(x509.provisioning.method == AuthMethod::X509);
  CHECK(*x509.provisioning.local_gateway_hostname == "parent");
  CHECK(x509.provisioning.csr_subject->common_name() == "d1");

  auto dps = parse_ok(kHead + R"(max_requests = 50
cloud_timeout_sec = 100
cloud_retries = 3
[provisioning]
source = "dps"
global_endpoint = "https://global.azure-devices-provisioning.net/"
scope_id = "0ab1234C5D6"
payload = { uri = "file:///etc/payload.json" }
[provisioning.attestation]
method = "symmetric_key"
registration_id = "my-device"
symmetric_key = "device-id"
)");
  CHECK(dps.max_requests == 50);
  CHECK(dps.cloud_timeout_sec == 100);
  CHECK(dps.provisioning.source == Source::Dps);
  CHECK(dps.provisioning.method == AuthMethod::SymmetricKey);
  CHECK(*dps.provisioning.payload_uri == "file:///etc/payload.json");

  auto dps_x509 = parse_ok(kHead + R"([provisioning]
source = "dps"
global_endpoint = "https://global.azure-devices-provisioning.net/"
scope_id = "0ab1234C5D6"
[provisioning.attestation]
method = "x509"
identity_cert = "device-id"
identity_pk = "device-id"
[provisioning.attestation.registration_id]
CN = "my-device"
L = "AQ"
ST = "Antarctica"
[provisioning.attestation.identity_auto_renew]
rotate_key = false
threshold = "50%"
retry = "10%"
)");
  CHECK(*dps_x509.provisioning.registration_id == "my-device");
  CHECK(dps_x509.provisioning.registration_subject->fields.size() == 3);
  CHECK(!dps_x509.provisioning.identity_auto_renew->rotate_key);

  auto tpm = parse_ok(kHead + R"([provisioning]
source = "dps"
global_endpoint = "https://global.azure-devices-provisioning.net/"
scope_id = "0ab1234C5D6"
[provisioning.attestation]
method = "tpm"
registration_id = "my-device"
)");
  CHECK(tpm.provisioning.method == AuthMethod::Tpm);

  auto none = parse_ok(kHead +
                       "[provisioning]\nsource = \"none\"\n[localid]\ndomain = \"example.com\"\n"
                       "[[principal]]\nuid = 1000\nname = \"hostagent\"\nidtype = [\"local\"]\n"
                       "localid = { type = \"x509\", attributes = \"server\" }\n");
  CHECK(none.provisioning.source == Source::None);
  REQUIRE(none.principals.size() == 1);
  CHECK(none.principals[0].localid->attributes == "server");

  for (const char* mode : {"Dynamic", "AlwaysOnStartup", "OnErrorOnly"})
    CHECK(parse_config(
        kHead + "auto_reprovisioning_mode = \"" + mode + "\"\n[provisioning]\nsource = \"none\"\n",
        "c"));
}

TEST_CASE("identityd config rejects bad input with the key and line", "[unit]") {
  CHECK(parse_error("homedir = \"/x\"\n[provisioning]\nsource = \"none\"\n").find("hostname") !=
        std::string::npos);
  auto e = parse_error(kHead + "[provisioning]\nsource = \"magic\"\n");
  CHECK(e.find("unknown provisioning source \"magic\"") != std::string::npos);
  CHECK(e.find("config.toml:4") != std::string::npos);
  CHECK(parse_error(
            kHead +
            "[provisioning]\nsource = \"manual\"\niothub_hostname = \"h\"\ndevice_id = \"d\"\n")
            .find("authentication") != std::string::npos);
  CHECK(parse_error(kHead + "[provisioning]\nsource = \"manual\"\nconnection_string = "
                            "\"HostName=h;DeviceId=d;SharedAccessKey=x\"\n")
            .find("connection_string") != std::string::npos);
  CHECK(parse_error(
            kHead +
            "[provisioning]\nsource = \"manual\"\niothub_hostname = \"h\"\ndevice_id = \"d\"\n"
            "[provisioning.authentication]\nmethod = \"sas\"\n")
            .find("device_id_pk") != std::string::npos);
  CHECK(parse_error(kHead + "cloud_timeout_sec = 10\n[provisioning]\nsource = \"none\"\n")
            .find("cloud_timeout_sec") != std::string::npos);
  CHECK(parse_error(kHead + "[provisioning]\nsource = \"dps\"\nlocal_gateway_hostname = "
                            "\"p\"\nglobal_endpoint = \"https://g/\"\n"
                            "scope_id = \"s\"\n[provisioning.attestation]\nmethod = "
                            "\"tpm\"\nregistration_id = \"r\"\n")
            .find("nested") != std::string::npos);
  CHECK(parse_error(
            kHead +
            "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"http://g/\"\nscope_id = \"s\"\n"
            "[provisioning.attestation]\nmethod = \"tpm\"\nregistration_id = \"r\"\n")
            .find("https") != std::string::npos);
  CHECK(parse_error(kHead +
                    "auto_reprovisioning_mode = \"Sometimes\"\n[provisioning]\nsource = \"none\"\n")
            .find("AlwaysOnStartup") != std::string::npos);
  // identity_auto_renew policies as upstream's cert-renewal.
  const std::string renew =
      kHead +
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://g/\"\nscope_id = \"s\"\n"
      "[provisioning.attestation]\nmethod = \"x509\"\nidentity_cert = \"c\"\nidentity_pk = "
      "\"k\"\n[provisioning.attestation.identity_auto_renew]\n";
  e = parse_error(renew + "threshold = \"1year\"\n");
  CHECK(e.find("threshold") != std::string::npos);
  CHECK(e.find("invalid renewal policy \"1year\"") != std::string::npos);
  CHECK(parse_error(renew + "retry = \"0%\"\n").find("retry") != std::string::npos);
  CHECK(parse_config(renew + "threshold = \"100min\"\nretry = \"1day\"\n", "c"));
  // Principal rules (upstream check.rs).
  const std::string manual =
      kHead +
      "[provisioning]\nsource = \"manual\"\niothub_hostname = \"h\"\ndevice_id = \"d\"\n"
      "[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = \"k\"\n";
  CHECK(parse_error(manual +
                    "[[principal]]\nuid = 1\nname = \"a\"\n[[principal]]\nuid = 2\nname = \"a\"\n")
            .find("duplicate") != std::string::npos);
  CHECK(parse_error(manual + "[[principal]]\nuid = 1\nname = \"a\"\nidtype = [\"local\"]\n")
            .find("[localid]") != std::string::npos);
  CHECK(
      parse_error(manual + "[[principal]]\nuid = 1\nname = \"a\"\nlocalid = { type = \"x509\" }\n")
          .find("localid") != std::string::npos);
  CHECK(parse_error(manual + "[[principal]]\nuid = 1\nname = \"a\"\nidtype = [\"robot\"]\n")
            .find("robot") != std::string::npos);
  CHECK(parse_error(kHead + "[provisioning]\nsource = \"none\"\n[[principal]]\nuid = 1\nname = "
                            "\"a\"\nidtype = [\"module\"]\n")
            .find("none") != std::string::npos);
  CHECK(parse_error(manual + "[[principal]]\nname = \"a\"\n").find("uid") != std::string::npos);
  // Unknown top-level keys are ignored with a warning (upstream's serde ignores them).
  auto c = parse_ok("future_key = 1\n" + manual);
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].find("future_key") != std::string::npos);
}

TEST_CASE("identityd authorization table matches upstream", "[unit]") {
  auto c = parse_ok(kHead + R"([provisioning]
source = "manual"
iothub_hostname = "h"
device_id = "d"
[provisioning.authentication]
method = "sas"
device_id_pk = "k"
[localid]
domain = "example.com"
[[principal]]
uid = 1001
name = "aziot-edged"
[[principal]]
uid = 1002
name = "mod1"
idtype = ["module"]
[[principal]]
uid = 1003
name = "dev"
idtype = ["device"]
[[principal]]
uid = 1004
name = "loc"
idtype = ["local"]
)");
  using O = Operation;
  auto root = authenticate(c, 0);
  auto daemon = authenticate(c, 1001);
  auto mod = authenticate(c, 1002);
  auto dev = authenticate(c, 1003);
  auto loc = authenticate(c, 1004);
  auto unknown = authenticate(c, 4242);
  CHECK(root.kind == CallerKind::LocalRoot);
  CHECK(daemon.kind == CallerKind::Daemon);
  CHECK(mod.kind == CallerKind::HostProcess);
  CHECK(unknown.kind == CallerKind::Unknown);
  for (auto op : {O::GetDevice, O::GetModule, O::ListModules, O::CreateModule, O::UpdateModule,
                  O::DeleteModule, O::Reprovision, O::TrustBundle}) {
    CHECK(authorize(root, op, "x"));
    CHECK(authorize(daemon, op, "x"));
    CHECK(authorize(unknown, op, "x") == (op == O::TrustBundle));
    bool host_ok = op == O::TrustBundle;
    CHECK(authorize(mod, op, "other") == host_ok);
  }
  CHECK(authorize(mod, O::GetModule, "mod1"));
  CHECK(!authorize(mod, O::GetDevice));
  CHECK(authorize(dev, O::GetDevice));
  CHECK(!authorize(dev, O::GetModule, "dev"));
  CHECK(authorize(loc, O::GetModule, "loc"));
  CHECK(!authorize(loc, O::ListModules));
  CHECK(!authorize(mod, O::Reprovision));
}
