#include "tests/identityd/emulator.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <random>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"

namespace identityd_test {
using edge::http::Json;

std::string emulator_bin() {
  if (const char* b = std::getenv("IOTHUB_EMULATOR_BIN"); b && *b) return b;
  return edge::test::bin("iothub-emulator");
}
bool have_emulator() { return ::access(emulator_bin().c_str(), X_OK) == 0; }

Emulator::Emulator() {
  std::random_device rd;
  host = "127." + std::to_string(20 + rd() % 200) + "." + std::to_string(rd() % 250 + 1) + "." +
         std::to_string(rd() % 250 + 1);
  start();
}

void Emulator::start() {
  ::unlink((state + "/info.json").c_str());
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{emulator_bin(), "--state-dir", state, "--hostname", host, "--bind",
                               host, "--no-websockets"},
      std::map<std::string, std::string>{}, dir / "emulator.log");
  for (int i = 0; i < 300 && !(::access((state + "/info.json").c_str(), F_OK) == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(edge::test::read_file(dir / "emulator.log"));
  REQUIRE((::access((state + "/info.json").c_str(), F_OK) == 0));
  info = Json::parse(edge::test::read_file(state + "/info.json"));
}

void Emulator::stop() {
  if (process) process->stop();
  process.reset();
}

edge::cloud::Options Emulator::options() const {
  edge::cloud::Options o;
  o.system_roots = false;
  o.extra_roots_pem = edge::test::read_file(ca());
  o.proxy = std::optional<edge::cloud::Proxy>();
  return o;
}

edge::cloud::Response Emulator::request(const std::string& method, const std::string& path,
                                        const edge::cloud::HeaderList& headers,
                                        const std::string& body) {
  auto r = edge::cloud::request(method, "https://" + host + path, headers, body, options());
  INFO(method << " " << path << ": " << (r ? r->body : r.error().message));
  REQUIRE(r);
  return *r;
}

Json Emulator::admin(const std::string& method, const std::string& path,
                     const std::optional<Json>& body) {
  auto r = request(method, path, {{"Content-Type", "application/json"}}, body ? body->dump() : "");
  INFO(method << " " << path << ": " << r.body);
  REQUIRE(r.status / 100 == 2);
  return r.body.empty() ? Json() : Json::parse(r.body);
}

edge::cloud::Response Emulator::device_call(const std::string& device, const std::string& key,
                                            const std::string& method, const std::string& path) {
  auto token = identityd::sas_token(
      host + "/devices/" + device,
      [&](std::string_view data) { return edge::crypto::hmac_sha256(key, data); },
      std::time(nullptr) + 600);
  return request(method, path + "?api-version=2021-04-12", {{"Authorization", *token}}, "");
}

std::string Emulator::service_token() const {
  std::string key = key_of(info["serviceConnectionString"]);
  auto token = identityd::sas_token(
      host, [&](std::string_view data) { return edge::crypto::hmac_sha256(key, data); },
      std::time(nullptr) + 600, std::string("iothubowner"));
  REQUIRE(token);
  return *token;
}

std::string key_of(const std::string& connection_string) {
  auto pos = connection_string.find("SharedAccessKey=");
  REQUIRE(pos != std::string::npos);
  return edge::base64::decode(connection_string.substr(pos + 16)).value();
}

std::string export_key(Daemons& d, const std::string& handle) {
  auto r = d.keyd("POST", "/derivedkey/export", Json{{"keyHandle", handle}});
  REQUIRE(r.status == 200);
  return r.json["key"];
}

int mqtt_publish_signed(Emulator& emu, const std::string& device, const std::string& module,
                        const identityd::Signer& sign, const std::string& payload) {
  std::string resource =
      emu.host + "/devices/" + device + (module.empty() ? "" : "/modules/" + module);
  auto token = identityd::sas_token(resource, sign, std::time(nullptr) + 600);
  REQUIRE(token);
  std::string id = device + (module.empty() ? "" : "/" + module);
  std::string topic =
      "devices/" + device + (module.empty() ? "" : "/modules/" + module) + "/messages/events/";
  std::string out;
  int rc = edge::test::run("mosquitto_pub -V mqttv311 -h " + emu.host + " -p 8883 --cafile " +
                               emu.ca() + " -i '" + id + "' -u '" + emu.host + "/" + id +
                               "/?api-version=2021-04-12' -P '" + *token + "' -t '" + topic +
                               "' -m '" + payload + "' -q 1 2>&1",
                           &out);
  INFO(out);
  return rc;
}

int mqtt_publish(Daemons& d, Emulator& emu, const std::string& device, const std::string& module,
                 const std::string& handle, const std::string& payload) {
  return mqtt_publish_signed(
      emu, device, module,
      [&](std::string_view data) -> edge::Result<std::string> {
        return d.hmac_with_handle(handle, std::string(data));
      },
      payload);
}

bool telemetry_has(Emulator& emu, const std::string& device, const std::string& body) {
  for (int i = 0; i < 50; ++i) {
    auto t = emu.admin("GET", "/admin/telemetry?deviceId=" + device);
    if (t.dump().find(body) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::unique_ptr<Daemons> identityd_for(Emulator& emu, const std::string& config,
                                       const std::string& device_key) {
  auto d = std::make_unique<Daemons>(config, false);
  d->env["SSL_CERT_FILE"] = emu.ca();
  d->env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "15000";
  if (!device_key.empty()) d->import_key("device-id", device_key);
  return d;
}

}  // namespace identityd_test
