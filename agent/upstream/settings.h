// Where and how the agent connects upstream, from the environment edged gives it
// (IOTEDGE_* variables, UpstreamProtocol, https_proxy).
#pragma once
#include <chrono>
#include <optional>
#include <string>

#include "common/cloud/exchange.h"
#include "common/result.h"

namespace agent::upstream {

enum class Protocol { Mqtt, MqttWs };

struct Settings {
  std::string iothub_hostname;   // SAS audience and MQTT user name
  std::string gateway_hostname;  // nested edge: connect to the parent instead
  std::string device_id;
  std::string module_id = "$edgeAgent";
  std::string generation_id;
  std::string workload_socket;  // path of edged's workload socket
  Protocol protocol = Protocol::Mqtt;
  std::optional<edge::cloud::Proxy> proxy;  // used for MqttWs only
  uint16_t mqtt_port = 8883, websocket_port = 443;
  std::chrono::seconds token_lifetime{3600};
  std::chrono::seconds keepalive{180};
  std::chrono::seconds refresh_period{3600};  // ConfigRefreshFrequencySecs: forced twin GET
  std::string connect_host() const {
    return gateway_hostname.empty() ? iothub_hostname : gateway_hostname;
  }
  std::string resource() const {
    return iothub_hostname + "/devices/" + device_id + "/modules/" + module_id;
  }
};

// Reads the environment; `notes` collects lines to log (e.g. Amqp mapped to Mqtt).
edge::Result<Settings> settings_from_env(std::string& notes);
// "Mqtt", "MqttWs"; "Amqp"/"AmqpWs" map to the MQTT equivalent (mapped = true); unset = Mqtt.
edge::Result<Protocol> parse_protocol(const std::string& text, bool& mapped);

}  // namespace agent::upstream
