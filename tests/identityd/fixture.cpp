#include "tests/identityd/fixture.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"

namespace identityd_test {
using edge::http::Json;

std::string api(const std::string& path, const std::string& version) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=" + version;
}

std::string default_principals() {
  return "[[principal]]\nuid = 1001\nname = \"aziot-edged\"\n"
         "[[principal]]\nuid = 1002\nname = \"mod1\"\nidtype = [\"module\"]\n"
         "[[principal]]\nuid = 1003\nname = \"devagent\"\nidtype = [\"device\"]\n";
}

std::string manual_sas(const std::string& hub, const std::string& extra) {
  return "[provisioning]\nsource = \"manual\"\niothub_hostname = \"" + hub +
         "\"\ndevice_id = \"dev1\"\n" + extra +
         "[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = \"device-id\"\n";
}

std::string certd_bin() {
  if (const char* b = std::getenv("AZIOT_CERTD_BIN"); b && *b) return b;
  std::string b = edge::test::bin("aziot-certd");
  return ::access(b.c_str(), X_OK) == 0 ? b : "";
}

Daemons::Daemons(std::string cfg, bool start, std::string keyd_extra,
                 std::optional<std::string> certd_config)
    : config(std::move(cfg)) {
  edge::test::write_file(dir / "keyd.toml", "[aziot_keys]\nhomedir_path = \"" + dir.path() +
                                                "/keyd-home\"\n" + keyd_extra +
                                                "\n[endpoints]\naziot_keyd = \"unix://" +
                                                keyd_socket + "\"\n");
  std::map<std::string, std::string> keyd_env{{"AZIOT_KEYD_CONFIG", dir / "keyd.toml"},
                                              {"AZIOT_KEYD_CONFIG_DIR", dir / "keyd.d"}};
  keyd_process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-keyd")}, keyd_env, dir / "keyd.log");
  REQUIRE(edge::test::wait_for_socket(keyd_socket));
  if (certd_config) {
    REQUIRE(!certd_bin().empty());
    edge::test::write_file(dir / "certd.toml",
                           "homedir_path = \"" + dir.path() + "/certd-home\"\n" + *certd_config +
                               "\n[endpoints]\naziot_certd = \"unix://" + dir.path() +
                               "/certd.sock\"\naziot_keyd = \"unix://" + keyd_socket + "\"\n");
    certd_process = std::make_unique<edge::test::Process>(
        std::vector<std::string>{certd_bin()},
        std::map<std::string, std::string>{{"AZIOT_CERTD_CONFIG", dir / "certd.toml"},
                                           {"AZIOT_CERTD_CONFIG_DIR", dir / "certd.d"}},
        dir / "certd.log");
    bool up = edge::test::wait_for_socket(dir / "certd.sock");
    INFO(edge::test::read_file(dir / "certd.log"));
    REQUIRE(up);
  }
  std::string full = "hostname = \"testhost\"\nhomedir = \"" + homedir + "\"\n" + config +
                     "\n[endpoints]\naziot_identityd = \"unix://" + identityd_socket +
                     "\"\naziot_keyd = \"unix://" + keyd_socket + "\"\naziot_certd = \"unix://" +
                     dir.path() + "/certd.sock\"\naziot_tpmd = \"unix://" + tpmd_socket + "\"\n";
  edge::test::write_file(dir / "identityd.toml", full);
  env["AZIOT_IDENTITYD_CONFIG"] = dir / "identityd.toml";
  env["AZIOT_IDENTITYD_CONFIG_DIR"] = dir / "identityd.d";
  env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "3000";
  env["AZIOT_LOG"] = "debug";
  if (start) start_identityd();
}

Daemons::~Daemons() {
  stop_identityd();
  if (certd_process) certd_process->stop();
  if (keyd_process) keyd_process->stop();
}

void Daemons::start_identityd() {
  identityd_process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-identityd")}, env, dir / "identityd.log");
  bool up = edge::test::wait_for_socket(identityd_socket, std::chrono::milliseconds(30000));
  INFO(identityd_log());
  REQUIRE(up);
  ::chmod(identityd_socket.c_str(), 0666);  // so tests can call as other uids
}

int Daemons::start_identityd_expect_exit() {
  identityd_process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-identityd")}, env, dir / "identityd.log");
  int code = identityd_process->wait();
  identityd_process.reset();
  return code;
}

void Daemons::stop_identityd() {
  if (identityd_process) identityd_process->stop();
  identityd_process.reset();
}

edge::test::Reply Daemons::call(const std::string& method, const std::string& path,
                                const std::optional<Json>& body) {
  edge::http::UnixClient c(identityd_socket);
  return edge::test::call(c, method, path, body);
}

edge::test::Reply Daemons::keyd(const std::string& method, const std::string& path,
                                const std::optional<Json>& body) {
  edge::http::UnixClient c(keyd_socket);
  return edge::test::call(
      c, method,
      path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=2021-05-01", body);
}

std::string Daemons::import_key(const std::string& id, const std::string& bytes) {
  auto r = keyd(
      "POST", "/key",
      Json{{"keyId", id}, {"keyBytes", edge::base64::encode(bytes)}, {"usage", "derive,sign"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  return r.json["keyHandle"];
}

std::string Daemons::hmac_with_handle(const std::string& handle, const std::string& message) {
  auto r = keyd("POST", "/sign",
                Json{{"keyHandle", handle},
                     {"algorithm", "HMAC-SHA256"},
                     {"parameters", {{"message", edge::base64::encode(message)}}}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  return edge::base64::decode(r.json["signature"].get<std::string>()).value();
}

std::string Daemons::key_file_bytes(const std::string& id) const {
  std::string alnum;
  for (char c : id)
    if (std::isalnum(static_cast<unsigned char>(c))) alnum += c;
  return edge::test::read_file(dir.path() + "/keyd-home/keys/" + alnum + "-" +
                               edge::crypto::hex(edge::crypto::sha256(id)) + ".key");
}

edge::test::Reply Daemons::call_as(uid_t uid, const std::string& method, const std::string& path,
                                   const std::optional<Json>& body) {
  return edge::test::call_as(uid, identityd_socket, method, path, body);
}

}  // namespace identityd_test
