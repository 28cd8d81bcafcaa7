#include "tests/tpmd/fixture.h"

#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.h"

namespace tpmd_test {
using edge::http::Json;

std::string api(const std::string& path) { return path + "?api-version=2020-09-01"; }
std::string b64(const std::string& bytes) { return edge::base64::encode(bytes); }
std::string unb64(const std::string& text) {
  return edge::base64::decode(text).value_or("<bad base64>");
}

Tpmd::Tpmd(std::string extra_config, bool start_now) {
  write_config(extra_config);
  env["AZIOT_TPMD_CONFIG"] = dir / "config.toml";
  env["AZIOT_TPMD_CONFIG_DIR"] = dir / "config.d";
  if (start_now) start();
}

Tpmd::~Tpmd() { stop(); }

void Tpmd::write_config(const std::string& extra) {
  std::string config = "tcti = \"" + swtpm.tcti() + "\"\n" + extra +
                       "\n[endpoints]\naziot_tpmd = \"unix://" + socket + "\"\n";
  edge::test::write_file(dir / "config.toml", config, 0600);
}

void Tpmd::start() {
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-tpmd")}, env, dir / "tpmd.log");
  bool up = edge::test::wait_for_socket(socket);
  if (!up) {
    INFO(log());
    REQUIRE(up);
  }
  client = std::make_unique<edge::http::UnixClient>(socket);
}

int Tpmd::start_fails() {
  ::unlink(socket.c_str());
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-tpmd")}, env, dir / "tpmd.log");
  int code = process->wait();
  process.reset();
  return code;
}

void Tpmd::stop() {
  client.reset();
  if (process) process->stop();
  process.reset();
}

std::string Tpmd::log() const { return edge::test::read_file(dir / "tpmd.log"); }

edge::test::Reply Tpmd::call(const std::string& method, const std::string& path,
                             const std::optional<Json>& body) {
  return edge::test::call(*client, method, path, body);
}

edge::test::Reply Tpmd::get_keys() { return call("GET", api("/get_tpm_keys")); }
edge::test::Reply Tpmd::import(const std::string& blob) {
  return call("POST", api("/import_auth_key"), Json{{"key", b64(blob)}});
}
edge::test::Reply Tpmd::sign(const std::string& data) {
  return call("POST", api("/sign_with_auth_key"), Json{{"data", b64(data)}});
}

}  // namespace tpmd_test
