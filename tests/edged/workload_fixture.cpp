#include "tests/edged/workload_fixture.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <random>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"
#include "common/uri.h"

namespace workload_test {
using edge::http::Json;

std::string api(const std::string& path, const std::string& version) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=" + version;
}

bool have_emulator() { return ::access(edge::test::bin("iothub-emulator").c_str(), X_OK) == 0; }

Emulator::Emulator() {
  std::random_device rd;
  host = "127." + std::to_string(20 + rd() % 200) + "." + std::to_string(rd() % 250 + 1) + "." +
         std::to_string(rd() % 250 + 1);
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("iothub-emulator"), "--state-dir", state, "--hostname",
                               host, "--bind", host, "--no-websockets"},
      std::map<std::string, std::string>{}, dir / "emulator.log");
  for (int i = 0; i < 300 && ::access((state + "/info.json").c_str(), F_OK) != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(edge::test::read_file(dir / "emulator.log"));
  REQUIRE(::access((state + "/info.json").c_str(), F_OK) == 0);
}

Emulator::~Emulator() {
  if (process) process->stop();
}

Json Emulator::https(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& authorization) {
  edge::test::write_file(dir / "body.json", body);
  std::string out;
  std::string cmd = "curl -s -X " + method + " --cacert " + ca() + " -H 'Content-Type: application/json'" +
                    (authorization.empty() ? "" : " -H 'Authorization: " + authorization + "'") +
                    (body.empty() ? "" : " --data-binary @" + dir / "body.json") + " 'https://" + host +
                    path + "'";
  int rc = edge::test::run(cmd, &out);
  INFO(cmd << "\n" << out);
  REQUIRE(rc == 0);
  if (out.empty()) return Json();
  return Json::parse(out, nullptr, false);
}

std::string Emulator::module_key(const std::string& device, const std::string& device_key,
                                 const std::string& module) {
  std::string resource = host + "/devices/" + device;
  std::string expiry = std::to_string(std::time(nullptr) + 600);
  std::string encoded = edge::uri::percent_encode(resource);
  auto sig = edge::crypto::hmac_sha256(device_key, encoded + "\n" + expiry);
  REQUIRE(sig);
  std::string token = "SharedAccessSignature sr=" + encoded + "&sig=" +
                      edge::uri::percent_encode(edge::base64::encode(*sig)) + "&se=" + expiry;
  auto m = https("GET", "/devices/" + device + "/modules/" + edge::uri::percent_encode(module) +
                            "?api-version=2021-04-12", "", token);
  INFO(m.dump());
  REQUIRE(m.contains("authentication"));
  return edge::base64::decode(m["authentication"]["symmetricKey"]["primaryKey"].get<std::string>()).value();
}

Stack::Stack(StackOptions options) {
  auto dev = emu.https("POST", "/admin/devices", Json{{"deviceId", "dev1"}, {"edge", true}}.dump());
  std::string cs = dev["connectionString"];
  device_key = edge::base64::decode(cs.substr(cs.find("SharedAccessKey=") + 16)).value();

  edge::test::write_file(dir / "keyd.toml", "[aziot_keys]\nhomedir_path = \"" + dir.path() + "/keyd-home\"\n" +
                                                options.keyd_extra + "\n[endpoints]\naziot_keyd = \"unix://" +
                                                keyd_socket + "\"\n");
  keyd = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-keyd")},
      std::map<std::string, std::string>{{"AZIOT_KEYD_CONFIG", dir / "keyd.toml"},
                                         {"AZIOT_KEYD_CONFIG_DIR", dir / "keyd.d"}},
      dir / "keyd.log");
  REQUIRE(edge::test::wait_for_socket(keyd_socket));
  {
    edge::http::UnixClient c(keyd_socket);
    auto r = edge::test::call(c, "POST", "/key?api-version=2021-05-01",
                              Json{{"keyId", "device-id"}, {"keyBytes", edge::base64::encode(device_key)},
                                   {"usage", "derive,sign"}});
    REQUIRE(r.status == 200);
  }

  std::string certd_extra = options.certd_extra;
  if (auto at = certd_extra.find("{HUB_CA}"); at != std::string::npos) certd_extra.replace(at, 8, emu.ca());
  edge::test::write_file(dir / "certd.toml", "homedir_path = \"" + dir.path() + "/certd-home\"\n" +
                                                 certd_extra + "\n[endpoints]\naziot_certd = \"unix://" +
                                                 certd_socket + "\"\naziot_keyd = \"unix://" + keyd_socket + "\"\n");
  certd = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-certd")},
      std::map<std::string, std::string>{{"AZIOT_CERTD_CONFIG", dir / "certd.toml"},
                                         {"AZIOT_CERTD_CONFIG_DIR", dir / "certd.d"}},
      dir / "certd.log");
  bool certd_up = edge::test::wait_for_socket(certd_socket);
  INFO(log("certd"));
  REQUIRE(certd_up);

  edge::test::write_file(
      dir / "identityd.toml",
      "hostname = \"edgehost\"\nhomedir = \"" + dir.path() + "/identityd-home\"\n" +
          "[provisioning]\nsource = \"manual\"\niothub_hostname = \"" + emu.host +
          "\"\ndevice_id = \"dev1\"\n[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = \"device-id\"\n" +
          "\n[endpoints]\naziot_identityd = \"unix://" + identityd_socket + "\"\naziot_keyd = \"unix://" +
          keyd_socket + "\"\naziot_certd = \"unix://" + certd_socket + "\"\n");
  identityd = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-identityd")},
      std::map<std::string, std::string>{{"AZIOT_IDENTITYD_CONFIG", dir / "identityd.toml"},
                                         {"AZIOT_IDENTITYD_CONFIG_DIR", dir / "identityd.d"},
                                         {"AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS", "15000"},
                                         {"SSL_CERT_FILE", emu.ca()}},
      dir / "identityd.log");
  bool identityd_up = edge::test::wait_for_socket(identityd_socket, std::chrono::milliseconds(30000));
  INFO(log("identityd"));
  REQUIRE(identityd_up);
}

Stack::~Stack() {
  for (auto* p : {&identityd, &certd, &keyd})
    if (*p) (*p)->stop();
}

edged::WorkloadSettings Stack::settings() const {
  edged::WorkloadSettings s;
  s.hostname = "edgehost";
  s.keyd_socket = keyd_socket;
  s.certd_socket = certd_socket;
  s.identityd_socket = identityd_socket;
  s.listen_workload_uri = "unix://" + dir.path() + "/workload.sock";
  return s;
}

std::string Stack::create_module(const std::string& module) {
  edge::http::UnixClient c(identityd_socket);
  auto r = edge::test::call(c, "POST", "/identities/modules?api-version=2020-09-01",
                            Json{{"type", "aziot"}, {"moduleId", module}});
  INFO(r.body << "\n" << log("identityd"));
  REQUIRE(r.status == 200);
  return r.json["spec"]["genId"];
}

}  // namespace workload_test
