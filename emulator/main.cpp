// iothub-emulator: one command that starts a local IoT Hub + DPS stand-in (mosquitto + plugin).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "emulator/launcher.h"

namespace {

const char kUsage[] =
    "usage: iothub-emulator --state-dir DIR [--hostname NAME] [--bind ADDR]\n"
    "                       [--mqtt-port 8883] [--https-port 443] [--id-scope SCOPE]\n"
    "                       [--mosquitto PATH] [--plugin PATH] [--no-websockets] [--init-only]\n"
    "Serves MQTT (TLS) on --mqtt-port and HTTPS (REST, DPS, admin, MQTT over websockets) on\n"
    "--https-port at ADDR. The CA to trust is DIR/ca.pem; DIR/info.json appears when ready.\n"
    "--init-only prepares DIR (CA, certificates, configuration) and exits.\n";

std::string self_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : exe.parent_path().string();
}

}  // namespace

int main(int argc, char** argv) {
  emulator::LaunchOptions options;
  std::string mosquitto = "/usr/sbin/mosquitto";
  options.plugin_path = self_dir() + "/iothub_emulator_plugin.so";
  bool init_only = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      return args[++i];
    };
    if (a == "--state-dir")
      options.settings.state_dir = value();
    else if (a == "--hostname")
      options.settings.hostname = value();
    else if (a == "--bind")
      options.settings.bind = value();
    else if (a == "--mqtt-port")
      options.settings.mqtt_port = std::atoi(value().c_str());
    else if (a == "--https-port")
      options.settings.https_port = std::atoi(value().c_str());
    else if (a == "--id-scope")
      options.settings.id_scope = value();
    else if (a == "--mosquitto")
      mosquitto = value();
    else if (a == "--plugin")
      options.plugin_path = value();
    else if (a == "--no-websockets")
      options.websockets = false;
    else if (a == "--init-only")
      init_only = true;
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "unknown argument %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (options.settings.state_dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  options.settings.state_dir = std::filesystem::absolute(options.settings.state_dir).string();
  if (options.websockets && !emulator::mosquitto_has_websockets(mosquitto)) {
    std::fprintf(stderr, "iothub-emulator: %s has no websockets support; MqttWs is disabled\n",
                 mosquitto.c_str());
    options.websockets = false;
  }
  if (auto st = emulator::prepare_state_dir(options); !st) {
    std::fprintf(stderr, "iothub-emulator: %s\n", st.error().message.c_str());
    return 1;
  }
  if (init_only) return 0;
  std::string conf = options.settings.mosquitto_conf();
  std::fprintf(stderr, "iothub-emulator: hub %s, MQTT %s:%d, HTTPS %s:%d, CA %s\n",
               options.settings.hostname.c_str(), options.settings.bind.c_str(),
               options.settings.mqtt_port, options.settings.bind.c_str(),
               options.settings.https_port, options.settings.ca_cert().c_str());
  // The broker replaces this process: signals and the exit status are mosquitto's.
  ::execl(mosquitto.c_str(), "mosquitto", "-c", conf.c_str(), static_cast<char*>(nullptr));
  std::perror(("iothub-emulator: exec " + mosquitto).c_str());
  return 1;
}
