// DPS TPM attestation end to end: a private swtpm, aziot-tpmd, keyd, the hub emulator (DPS with
// a TPM individual enrollment made through its DPS service API) and identityd. The device's hub
// SAS tokens are signed in the TPM (tpmd) and connect over MQTT; restarts of identityd, tpmd and
// swtpm keep the identity; bad TPM / DPS input fails clearly and leaves no key on disk.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"
#include "tests/identityd/emulator.h"
#include "tests/identityd/fixture.h"
#include "tests/identityd/pki.h"
#include "tests/tpmd/swtpm.h"

using namespace identityd_test;
using edge::http::Json;

namespace {

// swtpm + aziot-tpmd serving on `socket` (identityd's [endpoints] aziot_tpmd).
struct TpmDaemon {
  TpmDaemon(const std::string& dir, std::string socket_path)
      : dir_(dir), swtpm(dir + "/tpmstate"), socket(std::move(socket_path)) {
    write_config("");
  }
  ~TpmDaemon() { stop(); }
  void write_config(const std::string& extra) {
    edge::test::write_file(dir_ + "/tpmd.toml", "tcti = \"" + swtpm.tcti() + "\"\n" + extra +
                                                    "\n[endpoints]\naziot_tpmd = \"unix://" +
                                                    socket + "\"\n");
  }
  std::map<std::string, std::string> env() const {
    return {{"AZIOT_TPMD_CONFIG", dir_ + "/tpmd.toml"},
            {"AZIOT_TPMD_CONFIG_DIR", dir_ + "/tpmd.d"},
            {"AZIOT_TPMD_TPM_TIMEOUT_MS", "5000"}};
  }
  void start() {
    process = std::make_unique<edge::test::Process>(
        std::vector<std::string>{edge::test::bin("aziot-tpmd")}, env(), dir_ + "/tpmd.log");
    bool up = edge::test::wait_for_socket(socket);
    INFO(log());
    REQUIRE(up);
  }
  int start_fails() {
    ::unlink(socket.c_str());
    edge::test::Process p({edge::test::bin("aziot-tpmd")}, env(), dir_ + "/tpmd.log");
    return p.wait();
  }
  void stop() {
    if (process) process->stop();
    process.reset();
  }
  std::string log() const { return edge::test::read_file(dir_ + "/tpmd.log"); }
  edge::test::Reply call(const std::string& method, const std::string& path,
                         const std::optional<Json>& body = std::nullopt) {
    edge::http::UnixClient c(socket);
    return edge::test::call(c, method, path + "?api-version=2020-09-01", body);
  }
  std::string endorsement_key() {  // base64, as DPS enrollments hold it
    auto r = call("GET", "/get_tpm_keys");
    REQUIRE(r.status == 200);
    return r.json["endorsement_key"];
  }
  std::string storage_root_key() {
    auto r = call("GET", "/get_tpm_keys");
    REQUIRE(r.status == 200);
    return r.json["storage_root_key"];
  }
  edge::Result<std::string> sign(std::string_view data) {
    auto r = call("POST", "/sign_with_auth_key",
                  Json{{"data", edge::base64::encode(std::string(data))}});
    if (r.status != 200) return edge::internal("tpmd " + std::to_string(r.status) + ": " + r.body);
    return edge::base64::decode(r.json["digest"].get<std::string>()).value_or("");
  }
  identityd::Signer signer() {
    return [this](std::string_view data) { return sign(data); };
  }

  std::string dir_;
  tpm_test::Swtpm swtpm;
  std::string socket;
  std::unique_ptr<edge::test::Process> process;
};

std::string tpm_dps(const Emulator& emu, const std::string& registration_id) {
  return "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://" + emu.host +
         "/\"\nscope_id = \"" + emu.info["idScope"].get<std::string>() +
         "\"\n[provisioning.attestation]\nmethod = \"tpm\"\nregistration_id = \"" +
         registration_id + "\"\n";
}

// DPS service API: PUT /enrollments/{id} with a TPM attestation, as az / the service SDKs do.
edge::cloud::Response enroll(Emulator& emu, const std::string& registration_id,
                             const std::string& endorsement_key) {
  Json body{{"registrationId", registration_id},
            {"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", endorsement_key}}}}},
            {"capabilities", {{"iotEdge", true}}}};
  return emu.request("PUT", "/enrollments/" + registration_id + "?api-version=2021-10-01",
                     {{"Authorization", emu.service_token()}, {"Content-Type", "application/json"}},
                     body.dump());
}

std::string hub_key(Emulator& emu, const std::string& device) {
  auto d = emu.admin("GET", "/admin/devices/" + device);
  return edge::base64::decode(
             d["device"]["authentication"]["symmetricKey"]["primaryKey"].get<std::string>())
      .value();
}

// Files under `dir` that contain `needle` (the key's bytes or its base64), except the swtpm
// state: that is the simulated TPM's own NV memory (inside the chip on real hardware).
std::vector<std::string> files_containing(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().string().find("/tpmstate/") == std::string::npos &&
        edge::test::read_file(e.path().string()).find(needle) != std::string::npos)
      hits.push_back(e.path().string());
  return hits;
}

std::unique_ptr<Daemons> identityd_with(Emulator& emu, const std::string& config) {
  auto d = std::make_unique<Daemons>(config, false);
  d->env["SSL_CERT_FILE"] = emu.ca();
  d->env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
  return d;
}
}  // namespace

TEST_CASE("emulator dps tpm attestation end to end and across restarts", "[emulator][tpm]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  auto d = identityd_with(emu, tpm_dps(emu, "regt") + default_principals());
  TpmDaemon tpm(d->dir.path(), d->tpmd_socket);
  tpm.start();
  auto e = enroll(emu, "regt", tpm.endorsement_key());
  INFO(e.body);
  REQUIRE(e.status == 200);
  CHECK(Json::parse(e.body)["attestation"]["type"] == "tpm");
  d->start_identityd();

  auto r = d->call("GET", api("/identities/provisioning"));
  INFO(r.body << "\n" << d->identityd_log());
  REQUIRE(r.status == 200);
  CHECK(r.json["source"] == "dps");
  CHECK(r.json["auth"] == "tpm");
  CHECK(r.json["registration_id"] == "regt");
  r = d->call("GET", api("/identities/identity"));
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["deviceId"] == "regt");
  CHECK(r.json["spec"]["hubName"] == emu.host);
  CHECK(r.json["spec"]["auth"] == Json{{"type", "tpm"}});  // no key handle: the key is in the TPM
  CHECK(d->identityd_log().find("Imported DPS authentication key into TPM") != std::string::npos);

  // The hub device's symmetric key is the key DPS gave the TPM: the TPM's HMAC matches it.
  std::string key = hub_key(emu, "regt");
  CHECK(key.size() == 32);
  CHECK(tpm.sign("probe").value() == *edge::crypto::hmac_sha256(key, "probe"));
  // A SAS token signed in the TPM connects to the assigned hub over MQTT.
  CHECK(mqtt_publish_signed(emu, "regt", "", tpm.signer(), "tpm-device-1") == 0);
  CHECK(telemetry_has(emu, "regt", "tpm-device-1"));
  // identityd's own hub calls are TPM-signed: the principal's module exists, more can be made.
  r = d->call_as(1002, "GET", api("/identities/identity"));
  REQUIRE(r.status == 200);
  CHECK(mqtt_publish(*d, emu, "regt", "mod1", r.json["spec"]["auth"]["keyHandle"], "tpm-mod1") ==
        0);
  CHECK(d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m2"}})
            .status == 200);

  // No key material in the clear: neither the key nor its base64 is in any file of the device
  // side (keyd, identityd, tpmd, the TPM state) or its logs.
  CHECK(files_containing(d->dir.path(), key).empty());
  CHECK(files_containing(d->dir.path(), edge::base64::encode(key)).empty());

  // Restarts of identityd, tpmd and swtpm: the saved provisioning and the persisted TPM key.
  d->stop_identityd();
  tpm.stop();
  tpm.swtpm.restart();
  tpm.start();
  d->start_identityd();
  CHECK(d->identityd_log().find("saved provisioning state") != std::string::npos);
  CHECK(d->call("GET", api("/identities/identity")).json["spec"]["auth"]["type"] == "tpm");
  CHECK(tpm.sign("again").value() == *edge::crypto::hmac_sha256(key, "again"));
  CHECK(mqtt_publish_signed(emu, "regt", "", tpm.signer(), "tpm-device-2") == 0);
  CHECK(d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m3"}})
            .status == 200);
  // swtpm restarted under a running tpmd: the next request reconnects.
  tpm.swtpm.restart();
  CHECK(d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m4"}})
            .status == 200);

  // Reprovisioning runs the TPM challenge again: a new key in the TPM and in the hub.
  r = d->call("POST", api("/identities/device/reprovision"));
  INFO(r.body << "\n" << d->identityd_log());
  CHECK(r.status == 204);
  std::string key2 = hub_key(emu, "regt");
  CHECK(key2 != key);
  CHECK(tpm.sign("new").value() == *edge::crypto::hmac_sha256(key2, "new"));
  CHECK(mqtt_publish_signed(emu, "regt", "", tpm.signer(), "tpm-device-3") == 0);
  CHECK(telemetry_has(emu, "regt", "tpm-device-3"));

  // identityd restarted while tpmd is down: it starts from the saved state; hub calls fail
  // naming tpmd, and work again once tpmd is back.
  d->stop_identityd();
  tpm.stop();
  d->start_identityd();
  CHECK(d->call("GET", api("/identities/identity")).status == 200);
  r = d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m5"}});
  CHECK(r.status == 404);
  CHECK(r.json["message"].get<std::string>().find("aziot-tpmd") != std::string::npos);
  tpm.start();
  CHECK(d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m5"}})
            .status == 200);
}

TEST_CASE("emulator dps tpm bad input fails clearly", "[emulator][tpm]") {
  REQUIRE_EMULATOR();
  Emulator emu;
  auto d = identityd_with(emu, tpm_dps(emu, "regb"));
  TpmDaemon tpm(d->dir.path(), d->tpmd_socket);

  SECTION("an enrollment with another endorsement key: DPS refuses, nothing is imported") {
    tpm.start();
    REQUIRE(enroll(emu, "regb", tpm.storage_root_key()).status == 200);  // not this TPM's EK
    CHECK(d->start_identityd_expect_exit() == 1);
    INFO(d->identityd_log());
    CHECK(d->identityd_log().find("DPS answered 401") != std::string::npos);
    CHECK(d->identityd_log().find("endorsement key does not match") != std::string::npos);
    CHECK(tpm.call("POST", "/sign_with_auth_key", Json{{"data", "eA=="}}).status == 400);
  }
  SECTION("the DPS service API refuses bad enrollments and unauthenticated callers") {
    auto put = [&](const std::string& id, const std::string& body, bool token = true) {
      edge::cloud::HeaderList h{{"Content-Type", "application/json"}};
      if (token) h.emplace_back("Authorization", emu.service_token());
      return emu.request("PUT", "/enrollments/" + id + "?api-version=2021-10-01", h, body);
    };
    tpm.start();
    Json good{
        {"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", tpm.endorsement_key()}}}}}};
    CHECK(put("regb", good.dump(), false).status == 401);
    CHECK(put("regb", "{not json").status == 400);
    CHECK(put("regb", R"({"attestation":{"type":"tpm","tpm":{"endorsementKey":"%%%"}}})").status ==
          400);
    CHECK(put("regb", R"({"attestation":{"type":"tpm","tpm":{}}})").status == 400);
    CHECK(put("regb", R"({"attestation":{"type":"voice"}})").status == 400);
    CHECK(put("regb", R"({"registrationId":"other","attestation":{"type":"tpm"}})").status == 400);
    CHECK(put("regb", R"({"registrationId":"regb"})").status == 400);
    auto get = emu.request("GET", "/enrollments/regb?api-version=2021-10-01",
                           {{"Authorization", emu.service_token()}}, "");
    CHECK(get.status == 404);  // nothing was stored
    // The good one is stored, readable and removable.
    CHECK(put("regb", good.dump()).status == 200);
    get = emu.request("GET", "/enrollments/regb?api-version=2021-10-01",
                      {{"Authorization", emu.service_token()}}, "");
    CHECK(get.status == 200);
    CHECK(Json::parse(get.body)["attestation"]["tpm"]["endorsementKey"] == tpm.endorsement_key());
    CHECK(emu.request("DELETE", "/enrollments/regb?api-version=2021-10-01",
                      {{"Authorization", emu.service_token()}}, "")
              .status == 204);
    CHECK(d->start_identityd_expect_exit() == 1);  // deleted: DPS refuses the device
  }
  SECTION("no enrollment at all") {
    tpm.start();
    CHECK(d->start_identityd_expect_exit() == 1);
    CHECK(d->identityd_log().find("no TPM enrollment for registration regb") != std::string::npos);
  }
  SECTION("tpmd not running") {
    CHECK(d->start_identityd_expect_exit() == 1);
    INFO(d->identityd_log());
    CHECK(d->identityd_log().find("could not read the TPM's keys") != std::string::npos);
    CHECK(d->identityd_log().find("could not reach aziot-tpmd") != std::string::npos);
  }
  SECTION("swtpm stopped under a running tpmd: the TPM is not reachable") {
    tpm.start();
    REQUIRE(enroll(emu, "regb", tpm.endorsement_key()).status == 200);
    tpm.swtpm.stop();
    CHECK(d->start_identityd_expect_exit() == 1);
    INFO(d->identityd_log());
    CHECK(d->identityd_log().find("not reachable") != std::string::npos);
    // The TPM comes back: provisioning works.
    tpm.swtpm.start();
    d->start_identityd();
    CHECK(d->call("GET", api("/identities/identity")).json["spec"]["auth"]["type"] == "tpm");
  }
  SECTION("wrong endorsement hierarchy authorization: the import fails") {
    tpm.start();  // creates the EK and SRK
    REQUIRE(enroll(emu, "regb", tpm.endorsement_key()).status == 200);
    tpm.stop();
    REQUIRE(tpm.swtpm.tools("tpm2_changeauth -c e endorsement-secret") == 0);
    tpm.write_config("[hierarchy_authorization]\nendorsement = \"wrong-secret\"\n");
    tpm.start();
    CHECK(d->start_identityd_expect_exit() == 1);
    INFO(d->identityd_log() << "\n" << tpm.log());
    CHECK(d->identityd_log().find("could not import the DPS authentication key into the TPM") !=
          std::string::npos);
    CHECK(tpm.log().find("wrong authorization value") != std::string::npos);
    CHECK(tpm.log().find("wrong-secret") == std::string::npos);
    // With the right value it provisions.
    tpm.stop();
    tpm.write_config("[hierarchy_authorization]\nendorsement = \"endorsement-secret\"\n");
    tpm.start();
    d->start_identityd();
    CHECK(d->call("GET", api("/identities/identity")).status == 200);
  }
  SECTION("auth_key_index out of range: tpmd refuses its config, identityd names tpmd") {
    tpm.write_config("auth_key_index = 0x800000\n");
    CHECK(tpm.start_fails() == 153);
    CHECK(tpm.log().find("auth_key_index") != std::string::npos);
    CHECK(d->start_identityd_expect_exit() == 1);
    CHECK(d->identityd_log().find("could not reach aziot-tpmd") != std::string::npos);
  }
}

namespace {
// A DPS that answers every registration with 401 and the given authenticationKey (JSON value).
struct FakeDps {
  FakeDps(const std::string& dir, const Json& authentication_key) : port(free_port()) {
    const auto& k = pki();
    std::string script = dir + "/fake_dps.py";
    edge::test::write_file(script, R"(import http.server, json, ssl, sys
body = json.dumps({"errorCode": 401002, "message": "challenge",
                   "authenticationKey": json.loads(sys.argv[4])}).encode()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
)");
    process = std::make_unique<edge::test::Process>(
        std::vector<std::string>{"/usr/bin/python3", script, std::to_string(port), k.server_pem(),
                                 k.server_key(), authentication_key.dump()},
        std::map<std::string, std::string>{}, dir + "/fake_dps.log");
    REQUIRE(wait_for_port(port));
  }
  int port;
  std::unique_ptr<edge::test::Process> process;
};
}  // namespace

TEST_CASE("identityd tpm refuses a corrupted authentication key from DPS", "[integration][tpm]") {
  edge::test::TempDir files;
  edge::test::write_file(files / "ca.pem", pki().ca_pem());
  for (const auto& [name, key] :
       {std::pair{"garbage blob", Json(edge::base64::encode("not a TPM blob at all"))},
        std::pair{"not base64", Json("%%%")}, std::pair{"not a string", Json(42)},
        std::pair{"oversized", Json(edge::base64::encode(std::string(9000, 'x')))}}) {
    INFO(name);
    FakeDps dps(files.path(), key);
    std::string config =
        "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://127.0.0.1:" +
        std::to_string(dps.port) +
        "/\"\nscope_id = \"0ne00000001\"\n[provisioning.attestation]\nmethod = \"tpm\"\n"
        "registration_id = \"regc\"\n";
    Daemons d(config, false);
    d.env["SSL_CERT_FILE"] = files / "ca.pem";
    TpmDaemon tpm(d.dir.path(), d.tpmd_socket);
    tpm.start();
    CHECK(d.start_identityd_expect_exit() == 1);
    INFO(d.identityd_log());
    std::string log = d.identityd_log();
    if (std::string(name) == "garbage blob") {
      CHECK(log.find("could not import the DPS authentication key into the TPM") !=
            std::string::npos);
      CHECK(log.find("(400)") != std::string::npos);  // tpmd's answer is named
    } else {
      CHECK(log.find("authenticationKey") != std::string::npos);
    }
    // Nothing was imported; tpmd keeps serving.
    auto s = tpm.call("POST", "/sign_with_auth_key", Json{{"data", "eA=="}});
    CHECK(s.status == 400);
    CHECK(s.json["message"].get<std::string>().find("no auth key") != std::string::npos);
  }
}
