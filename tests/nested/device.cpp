#include "tests/nested/device.h"

#include <filesystem>
#include <stdexcept>

namespace nested_test {
using edge::test::bin;
using edge::test::write_file;

Device::Device(std::string role, std::string netns, std::string scope)
    : role_(std::move(role)), netns_(std::move(netns)), scope_(std::move(scope)) {}

Device::~Device() {
  // edged first: it stops its modules and talks to identityd on the way out.
  for (auto* p : {&edged_, &identityd_, &certd_, &keyd_})
    if (*p) (*p)->stop();
}

void Device::apply(const std::string& super_config) {
  write_file(dir / "config.toml", super_config);
  std::string out;
  int rc = edge::test::run(bin("iotedge") + " config apply -c " + dir / "config.toml" +
                               " --output-dir " + dir / "out" + " 2>&1",
                           &out);
  if (rc != 0) throw std::runtime_error(role_ + ": config apply failed: " + out);

  // Sandbox drop-ins: deep-merged over the generated configs, they change only where the
  // daemons listen and keep their state.
  auto endpoints = [&](std::initializer_list<const char*> names, const std::string& suffix) {
    std::string t = "[endpoints]\n";
    for (const char* n : names)
      t += std::string("aziot_") + n + suffix + " = \"unix://" + sock(n) + "\"\n";
    return t;
  };
  for (const char* d : {"keyd", "certd", "identityd", "edged"})
    std::filesystem::create_directories(dir / (std::string(d) + ".d"));
  write_file(dir / "keyd.d/50-sandbox.toml", "[aziot_keys]\nhomedir_path = \"" + dir / "keyd-home" +
                                                 "\"\n[preloaded_keys]\ndevice-id = \"file://" +
                                                 dir / "out/device-id" + "\"\n" +
                                                 endpoints({"keyd"}, ""));
  write_file(dir / "certd.d/50-sandbox.toml",
             "homedir_path = \"" + dir / "certd-home" + "\"\n" + endpoints({"certd", "keyd"}, ""));
  write_file(dir / "identityd.d/50-sandbox.toml",
             "homedir = \"" + dir / "identityd-home" + "\"\n" +
                 endpoints({"identityd", "keyd", "certd"}, ""));
  write_file(dir / "edged.d/50-sandbox.toml",
             "homedir = \"" + dir / "edged-home" + "\"\n" +
                 endpoints({"identityd", "keyd", "certd"}, "_url"));
}

std::unique_ptr<edge::test::Process> Device::start(const std::string& daemon,
                                                   const std::string& env_prefix) {
  std::map<std::string, std::string> env{
      {env_prefix + "_CONFIG", dir / ("out/" + daemon + ".toml")},
      {env_prefix + "_CONFIG_DIR", dir / (daemon + ".d")}};
  if (daemon == "edged") {
    env["AZIOT_EDGED_SCOPE_LABEL"] = scope_;
    env["AZIOT_EDGED_WATCHDOG_PERIOD_MS"] = "1000";
  }
  auto p = std::make_unique<edge::test::Process>(
      std::vector<std::string>{"/bin/ip", "netns", "exec", netns_, bin("aziot-" + daemon)}, env,
      dir / (daemon + ".log"));
  if (daemon != "edged" && !edge::test::wait_for_socket(sock(daemon), std::chrono::seconds(20)))
    throw std::runtime_error(role_ + ": aziot-" + daemon + " did not start: " + log(daemon));
  return p;
}

void Device::start_identity_services() {
  keyd_ = start("keyd", "AZIOT_KEYD");
  certd_ = start("certd", "AZIOT_CERTD");
  identityd_ = start("identityd", "AZIOT_IDENTITYD");
}

void Device::start_edged() { edged_ = start("edged", "AZIOT_EDGED"); }

void Device::stop_edged() {
  if (edged_) edged_->stop();
  edged_.reset();
}

std::string Device::log(const std::string& daemon) const {
  return edge::test::read_file(dir / (daemon + ".log"));
}

std::string Device::certificate(const std::string& id) const {
  edge::http::UnixClient c(sock("certd"));
  auto r = edge::test::call(c, "GET", "/certificates/" + id + "?api-version=2020-09-01");
  if (r.status != 200 || !r.json.contains("pem"))
    throw std::runtime_error(role_ + ": certd GET " + id + ": " + std::to_string(r.status) + " " +
                             r.body);
  return r.json["pem"];
}

}  // namespace nested_test
