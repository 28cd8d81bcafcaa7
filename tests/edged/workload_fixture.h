// The identity services and the hub emulator for workload API tests: the built aziot-keyd,
// aziot-certd and aziot-identityd (manual SAS provisioning of an edge device "dev1") in a temp
// dir, against iothub-emulator on a private loopback address.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "edged/workload_config.h"
#include "tests/support/harness.h"

namespace workload_test {

std::string api(const std::string& path, const std::string& version = "2022-08-03");

struct Emulator {
  Emulator();
  ~Emulator();
  edge::test::TempDir dir;
  std::string host;
  std::string state = dir / "state";
  std::unique_ptr<edge::test::Process> process;
  std::string ca() const { return state + "/ca.pem"; }
  // curl against the emulator's HTTPS side; returns the parsed JSON body (null when none).
  edge::http::Json https(const std::string& method, const std::string& path,
                         const std::string& body = "", const std::string& authorization = "");
  // The primary key the hub holds for a module (read with the device's own SAS token).
  std::string module_key(const std::string& device, const std::string& device_key,
                         const std::string& module);
};

struct StackOptions {
  // certd config added to the generated one: cert_issuance, preloaded_certs ... ("{HUB_CA}"
  // becomes the emulator's CA file)
  std::string certd_extra =
      "[cert_issuance]\naziot-edged-ca = { method = \"self_signed\", expiry_days = 90 }\n"
      "aziot-edged-ca-temp = { method = \"self_signed\", expiry_days = 90 }\n"
      "[preloaded_certs]\naziot-edged-trust-bundle = [\"aziot-edged-ca\"]\n";
  std::string keyd_extra;  // e.g. [preloaded_keys]
};

// keyd + certd + identityd (+ the emulator), all as the test's uid (root: every principal).
struct Stack {
  explicit Stack(StackOptions options = {});
  ~Stack();
  Emulator emu;
  edge::test::TempDir dir;
  std::string device_key;  // dev1's primary key (raw bytes)
  std::string keyd_socket = dir / "keyd.sock";
  std::string certd_socket = dir / "certd.sock";
  std::string identityd_socket = dir / "identityd.sock";
  std::unique_ptr<edge::test::Process> keyd, certd, identityd;
  // edged's settings pointing at these daemons.
  edged::WorkloadSettings settings() const;
  std::string log(const std::string& daemon) const { return edge::test::read_file(dir / (daemon + ".log")); }
  // identityd: creates a module identity; returns its generation id.
  std::string create_module(const std::string& module);
};

bool have_emulator();

}  // namespace workload_test
