// What the launcher (iothub-emulator) tells the broker plugin: written as emulator.json in the
// state directory, read by the plugin at init.
#pragma once
#include <string>

#include "common/result.h"

namespace emulator {

struct Settings {
  std::string state_dir;
  std::string hostname = "localhost";
  std::string bind = "127.0.0.1";
  int mqtt_port = 8883;
  int https_port = 443;
  int websocket_backend_port = 0;  // mosquitto's internal plain websockets listener
  int mqtt_backend_port = 0;       // mosquitto's internal plain MQTT listener
  std::string id_scope = "0ne00000001";

  std::string ca_cert() const { return state_dir + "/ca.pem"; }
  std::string ca_key() const { return state_dir + "/ca.key"; }
  std::string server_cert() const { return state_dir + "/server.pem"; }
  std::string server_key() const { return state_dir + "/server.key"; }
  std::string settings_file() const { return state_dir + "/emulator.json"; }
  std::string info_file() const { return state_dir + "/info.json"; }
  std::string mosquitto_conf() const { return state_dir + "/mosquitto.conf"; }
};

std::string to_json(const Settings& s);
edge::Result<Settings> settings_from_json(const std::string& text);

}  // namespace emulator
