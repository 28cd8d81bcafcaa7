// One IoT Edge device of the nested pair, set up as a user would: a super-config turned into
// the service configs by `iotedge config apply --output-dir`, then the built aziot-keyd,
// aziot-certd, aziot-identityd and aziot-edged started inside the device's network namespace
// (they talk to each other and to the engine over Unix sockets, which every namespace shares).
// Drop-ins only move sockets, homedirs and the device-id secret into the test's directory.
#pragma once
#include <memory>
#include <string>

#include "tests/support/harness.h"

namespace nested_test {

class Device {
 public:
  // `scope`: the AZIOT_EDGED_SCOPE_LABEL "key=value" this device's edged puts on (and limits
  // itself to) its containers. It must differ between devices: an edged removes its scope's
  // modules at start-up.
  Device(std::string role, std::string netns, std::string scope);
  ~Device();
  Device(const Device&) = delete;

  edge::test::TempDir dir;
  std::string sock(const std::string& name) const { return dir / (name + ".sock"); }
  // Runs config apply on `super_config` and writes the sandbox drop-ins.
  void apply(const std::string& super_config);
  void start_identity_services();  // keyd, certd, identityd; waits for their sockets
  void start_edged();
  void stop_edged();  // SIGTERM, as `iotedge system stop` would; its log keeps growing on restart
  std::string log(const std::string& daemon) const;
  // certd's GET /certificates/<id>: the PEM (throws when certd answers otherwise).
  std::string certificate(const std::string& id) const;

 private:
  std::unique_ptr<edge::test::Process> start(const std::string& daemon,
                                             const std::string& env_prefix);
  std::string role_, netns_, scope_;
  std::unique_ptr<edge::test::Process> keyd_, certd_, identityd_, edged_;
};

}  // namespace nested_test
