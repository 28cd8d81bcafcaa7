#include "emulator/settings.h"

#include <nlohmann/json.hpp>

namespace emulator {

std::string to_json(const Settings& s) {
  return nlohmann::json{{"stateDir", s.state_dir},
                        {"hostname", s.hostname},
                        {"bind", s.bind},
                        {"mqttPort", s.mqtt_port},
                        {"httpsPort", s.https_port},
                        {"websocketBackendPort", s.websocket_backend_port},
                        {"mqttBackendPort", s.mqtt_backend_port},
                        {"idScope", s.id_scope}}
      .dump(2);
}

edge::Result<Settings> settings_from_json(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return edge::invalid("emulator settings are not a JSON object");
  Settings s;
  s.state_dir = j.value("stateDir", "");
  s.hostname = j.value("hostname", s.hostname);
  s.bind = j.value("bind", s.bind);
  s.mqtt_port = j.value("mqttPort", s.mqtt_port);
  s.https_port = j.value("httpsPort", s.https_port);
  s.websocket_backend_port = j.value("websocketBackendPort", 0);
  s.mqtt_backend_port = j.value("mqttBackendPort", 0);
  s.id_scope = j.value("idScope", s.id_scope);
  if (s.state_dir.empty()) return edge::invalid("emulator settings lack stateDir");
  return s;
}

}  // namespace emulator
