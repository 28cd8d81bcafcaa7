// The hub's TLS endpoints. HTTPS (443) serves the REST APIs and hands "/$iothub/websocket"
// connections to mosquitto's internal websockets listener, as the real hub serves both on one
// port. MQTT (8883) is relayed to mosquitto's internal plain listener; a client certificate
// reaches the plugin as a one-time CONNECT password (see mqtt_connect.h). Client certificates
// are requested on both but optional (SAS clients have none).
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace emulator {

class Hub;

struct FrontConfig {
  std::string bind = "127.0.0.1";
  int port = 443;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;             // the emulator's CA (served by the admin API)
  std::string ca_key_file;         // lets the admin API issue device certificates
  int websocket_backend_port = 0;  // mosquitto's plain websockets listener on 127.0.0.1; 0 = none
  int mqtt_port = 0;               // 0 = no MQTT listener
  int mqtt_backend_port = 0;       // mosquitto's plain MQTT listener on 127.0.0.1
};

class Front {
 public:
  Front(Hub& hub, FrontConfig config);
  ~Front();
  edge::Status start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emulator
