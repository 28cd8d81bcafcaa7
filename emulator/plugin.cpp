// mosquitto 2.0 plugin: the IoT Hub device MQTT dialect on top of an unmodified broker, plus the
// hub's HTTPS side (REST, DPS, admin, websockets hand-off) on threads of the same process so
// both share one Hub. Broker functions are only ever called on the broker thread: replies go
// out right after the MESSAGE callback, work from REST threads is drained on TICK.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "common/fs.h"
#include "common/log.h"
#include "emulator/front.h"
#include "emulator/hub.h"
#include "emulator/settings.h"

namespace {

mosquitto_plugin_id_t* g_plugin = nullptr;
std::unique_ptr<emulator::Hub> g_hub;
std::unique_ptr<emulator::Front> g_front;
std::set<const mosquitto*> g_authenticated;  // broker thread only

std::string str(const char* s) { return s ? s : ""; }

void drain_outbox() {
  for (auto& out : g_hub->take_outbox()) {
    if (out.kind == emulator::Outbound::Kind::Kick) {
      mosquitto_kick_client_by_clientid(out.client_id.c_str(), false);
      continue;
    }
    // To exactly this client, subscribed or not (the SDK subscribes before it asks); QoS 0
    // except cloud-to-device messages.
    mosquitto_broker_publish_copy(out.client_id.c_str(), out.topic.c_str(),
                                  static_cast<int>(out.payload.size()), out.payload.data(), out.qos,
                                  false, nullptr);
  }
}

int on_basic_auth(int, void* data, void*) {
  auto* e = static_cast<mosquitto_evt_basic_auth*>(data);
  std::string cid = str(mosquitto_client_id(e->client));
  X509* cert = static_cast<X509*>(mosquitto_client_certificate(e->client));
  auto ok = g_hub->authenticate_mqtt(cid, str(e->username), str(e->password), cert);
  if (cert) X509_free(cert);
  if (!ok) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: refused %s: %s", cid.c_str(),
                         ok.error().message.c_str());
    return MOSQ_ERR_AUTH;
  }
  g_authenticated.insert(e->client);
  g_hub->client_connected(cid, mosquitto_client_clean_session(e->client));
  return MOSQ_ERR_SUCCESS;
}

int on_acl_check(int, void* data, void*) {
  auto* e = static_cast<mosquitto_evt_acl_check*>(data);
  std::string cid = str(mosquitto_client_id(e->client));
  switch (e->access) {
    case MOSQ_ACL_SUBSCRIBE:
      if (!g_hub->may_subscribe(cid, str(e->topic))) return MOSQ_ERR_ACL_DENIED;
      g_hub->client_subscribed(cid, str(e->topic));
      return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_UNSUBSCRIBE:
    case MOSQ_ACL_WRITE:  // the MESSAGE callback decides what a publish means
      return MOSQ_ERR_SUCCESS;
    default:  // READ: nothing is routed between clients; replies are targeted publishes
      return MOSQ_ERR_ACL_DENIED;
  }
}

int on_message(int, void* data, void*) {
  auto* e = static_cast<mosquitto_evt_message*>(data);
  std::string cid = str(mosquitto_client_id(e->client));
  std::string payload(static_cast<const char*>(e->payload), e->payloadlen);
  auto outcome = g_hub->on_publish(cid, str(e->topic), payload);
  drain_outbox();
  if (outcome == emulator::PublishOutcome::Disconnect) {
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: disconnecting %s: unsupported topic %s",
                         cid.c_str(), e->topic);
    return MOSQ_ERR_PROTOCOL;  // any error other than ACL_DENIED closes the connection
  }
  return MOSQ_ERR_ACL_DENIED;  // consumed: never forwarded to other clients; QoS 1 still PUBACKed
}

int on_tick(int, void*, void*) {
  drain_outbox();
  return MOSQ_ERR_SUCCESS;
}

int on_disconnect(int, void* data, void*) {
  auto* e = static_cast<mosquitto_evt_disconnect*>(data);
  if (g_authenticated.erase(e->client))
    g_hub->client_disconnected(str(mosquitto_client_id(e->client)));
  return MOSQ_ERR_SUCCESS;
}

struct Callback {
  int event;
  MOSQ_FUNC_generic_callback fn;
};
const Callback kCallbacks[] = {{MOSQ_EVT_BASIC_AUTH, on_basic_auth},
                               {MOSQ_EVT_ACL_CHECK, on_acl_check},
                               {MOSQ_EVT_MESSAGE, on_message},
                               {MOSQ_EVT_TICK, on_tick},
                               {MOSQ_EVT_DISCONNECT, on_disconnect}};

int start(const std::string& config_path) {
  auto text = edge::fs::read_file(config_path);
  if (!text) return MOSQ_ERR_INVAL;
  auto settings = emulator::settings_from_json(*text);
  if (!settings) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: %s", settings.error().message.c_str());
    return MOSQ_ERR_INVAL;
  }
  emulator::HubConfig hc;
  hc.hostname = settings->hostname;
  hc.state_dir = settings->state_dir;
  hc.dps_id_scope = settings->id_scope;
  g_hub = std::make_unique<emulator::Hub>(hc);
  if (auto st = g_hub->load(); !st) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: cannot load state: %s", st.error().message.c_str());
    return MOSQ_ERR_INVAL;
  }
  emulator::FrontConfig fc{settings->bind,
                           settings->https_port,
                           settings->server_cert(),
                           settings->server_key(),
                           settings->ca_cert(),
                           settings->ca_key(),
                           settings->websocket_backend_port,
                           settings->mqtt_port,
                           settings->mqtt_backend_port};
  g_front = std::make_unique<emulator::Front>(*g_hub, fc);
  if (auto st = g_front->start(); !st) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: %s", st.error().message.c_str());
    return MOSQ_ERR_INVAL;
  }
  // info.json doubles as the "ready" signal for scripts: written once everything listens.
  nlohmann::json info = g_hub->info();
  info["mqttPort"] = settings->mqtt_port;
  info["httpsPort"] = settings->https_port;
  info["bind"] = settings->bind;
  info["caFile"] = settings->ca_cert();
  info["adminUrl"] =
      "https://" + settings->hostname + ":" + std::to_string(settings->https_port) + "/admin";
  info["websockets"] = settings->websocket_backend_port != 0;
  (void)edge::fs::write_atomic(settings->info_file(), info.dump(2), 0644);
  return MOSQ_ERR_SUCCESS;
}

}  // namespace

extern "C" {

int mosquitto_plugin_version(int, const int*) { return 5; }

int mosquitto_plugin_init(mosquitto_plugin_id_t* id, void**, mosquitto_opt* opts, int count) {
  g_plugin = id;
  std::string config;
  for (int i = 0; i < count; i++)
    if (str(opts[i].key) == "config") config = str(opts[i].value);
  if (config.empty()) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "iothub: plugin_opt_config is required");
    return MOSQ_ERR_INVAL;
  }
  if (int rc = start(config); rc != MOSQ_ERR_SUCCESS) return rc;
  for (const auto& cb : kCallbacks)
    if (int rc = mosquitto_callback_register(g_plugin, cb.event, cb.fn, nullptr, nullptr);
        rc != MOSQ_ERR_SUCCESS)
      return rc;
  return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void*, mosquitto_opt*, int) {
  for (const auto& cb : kCallbacks)
    mosquitto_callback_unregister(g_plugin, cb.event, cb.fn, nullptr);
  if (g_front) g_front->stop();
  // The broker exits next. A connection thread that has not finished yet may still touch the
  // Hub, so the objects are left to the process exit instead of being destroyed here.
  (void)g_front.release();
  (void)g_hub.release();
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
