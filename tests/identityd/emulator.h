// The project's IoT Hub / DPS emulator (iothub-emulator) for identityd tests: one per test on a
// private 127.x.y.z address (port 443, so tests run as root), plus MQTT and registry helpers.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "common/cloud/https_client.h"
#include "identityd/cloud.h"
#include "tests/identityd/fixture.h"

namespace identityd_test {

std::string emulator_bin();  // IOTHUB_EMULATOR_BIN or build/bin/iothub-emulator
bool have_emulator();

#define REQUIRE_EMULATOR()                                               \
  if (!have_emulator()) {                                                \
    WARN("iothub-emulator not built (" + emulator_bin() + "): skipped"); \
    return;                                                              \
  }

struct Emulator {
  Emulator();
  ~Emulator() { stop(); }
  void start();
  void stop();
  std::string ca() const { return state + "/ca.pem"; }
  edge::cloud::Options options() const;
  // An admin API call that must succeed (2xx); its JSON answer.
  edge::http::Json admin(const std::string& method, const std::string& path,
                         const std::optional<edge::http::Json>& body = std::nullopt);
  // Any call (status not checked) with optional headers.
  edge::cloud::Response request(const std::string& method, const std::string& path,
                                const edge::cloud::HeaderList& headers, const std::string& body);
  // A device-scoped registry call with a SAS token signed by `key`.
  edge::cloud::Response device_call(const std::string& device, const std::string& key,
                                    const std::string& method, const std::string& path);
  // The service policy token (iothubowner) of serviceConnectionString.
  std::string service_token() const;

  edge::test::TempDir dir;
  std::string host;
  std::string state = dir / "state";
  std::unique_ptr<edge::test::Process> process;
  edge::http::Json info;
};

std::string key_of(const std::string& connection_string);  // raw SharedAccessKey bytes
std::string export_key(Daemons& d, const std::string& handle);
// Publishes one telemetry message over MQTT/TLS (mosquitto_pub) with a SAS token signed by
// `sign`; returns mosquitto_pub's exit code.
int mqtt_publish_signed(Emulator& emu, const std::string& device, const std::string& module,
                        const identityd::Signer& sign, const std::string& payload);
// The same with a keyd key handle.
int mqtt_publish(Daemons& d, Emulator& emu, const std::string& device, const std::string& module,
                 const std::string& handle, const std::string& payload);
bool telemetry_has(Emulator& emu, const std::string& device, const std::string& body);
// Daemons (keyd started) for `config`, trusting the emulator; `device_key` imported as device-id.
std::unique_ptr<Daemons> identityd_for(Emulator& emu, const std::string& config,
                                       const std::string& device_key);

}  // namespace identityd_test
