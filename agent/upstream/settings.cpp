#include "agent/upstream/settings.h"

#include <strings.h>

#include <cstdlib>

#include "common/uri.h"

namespace agent::upstream {

namespace {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
edge::Result<std::string> required(const char* name) {
  std::string v = env(name);
  if (v.empty()) return edge::invalid(std::string(name) + " is not set");
  return v;
}
}  // namespace

edge::Result<Protocol> parse_protocol(const std::string& text, bool& mapped) {
  mapped = false;
  if (text.empty() || strcasecmp(text.c_str(), "Mqtt") == 0) return Protocol::Mqtt;
  if (strcasecmp(text.c_str(), "MqttWs") == 0) return Protocol::MqttWs;
  mapped = strcasecmp(text.c_str(), "Amqp") == 0 || strcasecmp(text.c_str(), "AmqpWs") == 0;
  if (mapped) return strcasecmp(text.c_str(), "Amqp") == 0 ? Protocol::Mqtt : Protocol::MqttWs;
  return edge::invalid("UpstreamProtocol \"" + text +
                       "\" is not one of Mqtt, MqttWs, Amqp, AmqpWs");
}

edge::Result<Settings> settings_from_env(std::string& notes) {
  Settings s;
  s.iothub_hostname = EDGE_TRY(required("IOTEDGE_IOTHUBHOSTNAME"));
  s.gateway_hostname = env("IOTEDGE_GATEWAYHOSTNAME");
  s.device_id = EDGE_TRY(required("IOTEDGE_DEVICEID"));
  s.module_id = EDGE_TRY(required("IOTEDGE_MODULEID"));
  s.generation_id = EDGE_TRY(required("IOTEDGE_MODULEGENERATIONID"));
  std::string scheme = env("IOTEDGE_AUTHSCHEME");
  if (!scheme.empty() && strcasecmp(scheme.c_str(), "sasToken") != 0)
    return edge::invalid("IOTEDGE_AUTHSCHEME \"" + scheme +
                         "\" is not supported; expected sasToken");
  auto workload = EDGE_TRY(edge::uri::parse_endpoint(EDGE_TRY(required("IOTEDGE_WORKLOADURI"))));
  if (workload.kind != edge::uri::Endpoint::Kind::Unix)
    return edge::invalid("IOTEDGE_WORKLOADURI must be a unix:// socket");
  s.workload_socket = workload.value;
  bool mapped = false;
  std::string protocol = env("UpstreamProtocol");
  s.protocol = EDGE_TRY(parse_protocol(protocol, mapped));
  if (mapped)
    notes += "UpstreamProtocol " + protocol + " is not available in this agent; using " +
             (s.protocol == Protocol::Mqtt ? "Mqtt" : "MqttWs") + " instead\n";
  if (s.protocol == Protocol::MqttWs)
    s.proxy = EDGE_TRY(edge::cloud::proxy_from_env(s.connect_host()));
  if (auto v = std::atoll(env("ConfigRefreshFrequencySecs").c_str()); v > 0)
    s.refresh_period = std::chrono::seconds(v);
  return s;
}

}  // namespace agent::upstream
