// Hub: the device-facing MQTT dialect (twin GET / reported PATCH / methods / telemetry),
// connection tracking, and direct-method calls from the service side.
#include <charconv>
#include <chrono>

#include "common/base64.h"
#include "common/uri.h"
#include "emulator/hub.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

namespace {

struct IdentityId {
  std::string dev, mod;
};
IdentityId split_client_id(const std::string& cid) {
  size_t p = cid.find('/');
  if (p == std::string::npos) return {cid, {}};
  return {cid.substr(0, p), cid.substr(p + 1)};
}

// "$rid=5&$version=3" -> value of $rid; empty when absent.
std::string query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (kv.size() > name.size() && kv.starts_with(name) && kv[name.size()] == '=')
      return std::string(kv.substr(name.size() + 1));
  }
  return {};
}

// The topic prefix this identity may publish telemetry under / subscribe to.
std::string own_prefix(const IdentityId& id) {
  return "devices/" + id.dev + (id.mod.empty() ? "" : "/modules/" + id.mod) + "/";
}

}  // namespace

bool Hub::is_online(const std::string& client_id, const char* subscription) const {
  auto it = connections_.find(client_id);
  if (it == connections_.end() || it->second.count <= 0) return false;
  return !subscription || it->second.subscriptions.count(subscription);
}

void Hub::publish(const std::string& client_id, std::string topic, std::string payload) {
  outbox_.push_back({Outbound::Kind::Publish, client_id, std::move(topic), std::move(payload)});
}

std::vector<Outbound> Hub::take_outbox() {
  std::lock_guard lock(mu_);
  return std::exchange(outbox_, {});
}

void Hub::client_connected(const std::string& client_id, bool clean_session) {
  std::lock_guard lock(mu_);
  connections_[client_id].count++;
  if (clean_session) connections_[client_id].subscriptions.clear();
  auto id = split_client_id(client_id);
  if (Json* e = identity_entry(id.dev, id.mod)) {
    Json& identity = id.mod.empty() ? (*e)["device"] : (*e)["module"];
    identity["connectionStateUpdatedTime"] = now_iso();
    identity["lastActivityTime"] = now_iso();
  }
}

Json Hub::connections(const std::string& dev) const {
  std::lock_guard lock(mu_);
  Json out = Json::object();
  for (const auto& [cid, c] : connections_)
    if (cid == dev || cid.starts_with(dev + "/"))
      out[cid] = {{"connected", c.count > 0}, {"subscriptions", c.subscriptions}};
  return out;
}

void Hub::client_disconnected(const std::string& client_id) {
  std::lock_guard lock(mu_);
  auto it = connections_.find(client_id);
  if (it != connections_.end() && it->second.count > 0) it->second.count--;
}

bool Hub::may_subscribe(const std::string& client_id, const std::string& filter) const {
  auto id = split_client_id(client_id);
  if (filter == "$iothub/twin/res/#" || filter == "$iothub/twin/PATCH/properties/desired/#" ||
      filter == "$iothub/methods/POST/#")
    return true;
  std::string own = own_prefix(id);
  if (id.mod.empty()) return filter == own + "messages/devicebound/#";
  return filter == own + "#" || filter == own + "inputs/#";
}

void Hub::client_subscribed(const std::string& client_id, const std::string& filter) {
  std::lock_guard lock(mu_);
  if (filter == "devices/" + client_id + "/messages/devicebound/#") {
    connections_[client_id].subscriptions.insert("c2d");
    flush_c2d_locked(client_id);
  }
  if (filter.starts_with("$iothub/methods/POST/"))
    connections_[client_id].subscriptions.insert("methods");
  if (filter.starts_with("$iothub/twin/PATCH/properties/desired/"))
    connections_[client_id].subscriptions.insert("desired");
}

PublishOutcome Hub::on_publish(const std::string& client_id, const std::string& topic,
                               const std::string& payload) {
  auto id = split_client_id(client_id);
  std::lock_guard lock(mu_);
  Json* entry = identity_entry(id.dev, id.mod);
  if (!entry) return PublishOutcome::Disconnect;  // deleted while connected
  size_t q = topic.find("/?");
  std::string_view query =
      q == std::string::npos ? std::string_view{} : std::string_view(topic).substr(q + 2);
  std::string rid = query_value(query, "$rid");

  if (topic.starts_with("$iothub/twin/GET/")) {
    if (rid.empty() || q != 16) return PublishOutcome::Disconnect;
    const Json& t = (*entry)["twin"];
    Json desired = t["desired"], reported = t["reported"];
    desired["$version"] = t["dv"];
    reported["$version"] = t["rv"];
    publish(client_id, "$iothub/twin/res/200/?$rid=" + rid,
            Json{{"desired", desired}, {"reported", reported}}.dump());
    return PublishOutcome::Consumed;
  }
  if (topic.starts_with("$iothub/twin/PATCH/properties/reported/")) {
    if (rid.empty() || q != 38) return PublishOutcome::Disconnect;
    Json patch = Json::parse(payload, nullptr, false);
    auto reply = [&](int status, const std::string& extra, const Json& body) {
      publish(client_id, "$iothub/twin/res/" + std::to_string(status) + "/?$rid=" + rid + extra,
              body.is_null() ? std::string() : body.dump());
    };
    if (patch.is_discarded() || !patch.is_object()) {
      reply(400, "",
            Json{{"errorCode", 400004}, {"message", "reported patch must be a JSON object"}});
      return PublishOutcome::Consumed;
    }
    Json& t = (*entry)["twin"];
    Json next = t["reported"];
    merge_patch(next, strip_metadata(patch));
    if (properties_size(next) > config_.twin_properties_limit) {
      reply(413, "",
            Json{{"errorCode", 413001}, {"message", "reported properties exceed the 32 KB limit"}});
      return PublishOutcome::Consumed;
    }
    t["reported"] = std::move(next);
    t["rv"] = t["rv"].get<int64_t>() + 1;
    t["version"] = t["version"].get<int64_t>() + 1;
    t["etag"] = new_etag();
    save();
    reply(204, "&$version=" + std::to_string(t["rv"].get<int64_t>()), Json());
    return PublishOutcome::Consumed;
  }
  if (topic.starts_with("$iothub/methods/res/")) {
    std::string_view rest = std::string_view(topic).substr(20);
    int status = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), status);
    if (ec != std::errc{} || rid.empty() || p == rest.data() + rest.size() || *p != '/')
      return PublishOutcome::Disconnect;
    auto it = pending_methods_.find(rid);
    if (it != pending_methods_.end() && it->second.client_id == client_id) {
      it->second.done = true;
      it->second.status = status;
      it->second.payload = payload;
      method_cv_.notify_all();
    }
    return PublishOutcome::Consumed;
  }
  std::string events = own_prefix(id) + "messages/events";
  if (topic == events || topic.starts_with(events + "/")) {
    std::string props = topic.size() > events.size() + 1 ? topic.substr(events.size() + 1) : "";
    if (!props.empty() && props.back() == '/') props.pop_back();
    record_telemetry(id.dev, id.mod, props, payload);
    return PublishOutcome::Consumed;
  }
  return PublishOutcome::Disconnect;  // IoT Hub closes the connection on unsupported topics
}

edge::Status Hub::send_c2d(const std::string& dev, const Json& message) {
  if (!message.is_object()) return edge::invalid("the message must be a JSON object");
  std::lock_guard lock(mu_);
  if (!device_entry(dev))
    return edge::fail(
        hub_error(ErrorKind::NotFound, "DeviceNotFound", "Device " + dev + " not found"));
  auto& queue = c2d_queue_[dev];
  if (queue.size() >= 50)
    return edge::fail(hub_error(ErrorKind::Forbidden, "DeviceMaximumQueueDepthExceeded",
                                "50 messages are waiting for " + dev));
  const Json& data = message.value("data", Json(""));
  std::string props =
      "%24.mid=" + edge::uri::percent_encode(message.value("messageId", new_etag())) +
      "&%24.to=" + edge::uri::percent_encode("/devices/" + dev + "/messages/deviceBound");
  const Json properties = message.value("properties", Json::object());
  for (auto it = properties.begin(); properties.is_object() && it != properties.end(); ++it)
    if (it.value().is_string())
      props += "&" + edge::uri::percent_encode(it.key()) + "=" +
               edge::uri::percent_encode(it.value().get<std::string>());
  queue.push_back({Outbound::Kind::Publish, dev,
                   "devices/" + dev + "/messages/devicebound/" + props,
                   data.is_string() ? data.get<std::string>() : data.dump(), 1});
  flush_c2d_locked(dev);
  return {};
}

void Hub::flush_c2d_locked(const std::string& dev) {
  if (!is_online(dev, "c2d")) return;
  auto& queue = c2d_queue_[dev];
  while (!queue.empty()) {
    outbox_.push_back(std::move(queue.front()));
    queue.pop_front();
  }
}

void Hub::record_telemetry(const std::string& dev, const std::string& mod, const std::string& props,
                           const std::string& payload) {
  Json app = Json::object(), sys = Json::object();
  auto parsed = edge::uri::parse_query(props);
  if (parsed)
    for (const auto& [k, v] : *parsed) (k.starts_with("$.") ? sys[k.substr(2)] : app[k]) = v;
  Json msg = {{"deviceId", dev},   {"enqueuedTime", now_iso()},
              {"properties", app}, {"systemProperties", sys},
              {"body", payload},   {"bodyBase64", edge::base64::encode(payload)}};
  if (!mod.empty()) msg["moduleId"] = mod;
  telemetry_.push_back(msg);
  append_telemetry_locked(msg);
  while (telemetry_.size() > config_.telemetry_kept) telemetry_.pop_front();
}

Json Hub::telemetry(const std::string& dev, const std::string& mod) const {
  std::lock_guard lock(mu_);
  Json out = Json::array();
  for (const auto& m : telemetry_)
    if ((dev.empty() || m["deviceId"] == dev) && (mod.empty() || m.value("moduleId", "") == mod))
      out.push_back(m);
  return out;
}

edge::Result<Json> Hub::invoke_method(const std::string& dev, const std::string& mod,
                                      const Json& body) {
  if (!body.is_object() || !body.value("methodName", Json()).is_string() ||
      body["methodName"].get<std::string>().empty())
    return edge::fail(
        hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "methodName is required"));
  std::string name = body["methodName"];
  for (char c : name)
    if (c == '/' || c == '#' || c == '+' || c == '?')
      return edge::fail(
          hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid", "invalid methodName"));
  int timeout_s = body.value("responseTimeoutInSeconds", 30);
  if (timeout_s < 5 || timeout_s > config_.max_method_timeout_s)
    return edge::fail(hub_error(ErrorKind::InvalidParameter, "ArgumentInvalid",
                                "responseTimeoutInSeconds out of range"));
  std::string cid = client_id_of(dev, mod);
  std::unique_lock lock(mu_);
  if (!identity_entry(dev, mod))
    return edge::fail(hub_error(ErrorKind::NotFound,
                                mod.empty() ? "DeviceNotFound" : "ModuleNotFound",
                                cid + " not found"));
  if (!is_online(cid, "methods"))
    return edge::fail(hub_error(ErrorKind::NotFound, "DeviceNotOnline",
                                "Timed out waiting for device to connect."));
  char rid_buf[32];
  std::snprintf(rid_buf, sizeof rid_buf, "%llx", static_cast<unsigned long long>(++rid_seq_));
  std::string rid = rid_buf;
  pending_methods_[rid] = PendingMethod{false, 0, {}, cid};
  Json payload = body.contains("payload") ? body["payload"] : Json();
  publish(cid, "$iothub/methods/POST/" + name + "/?$rid=" + rid, payload.dump());
  bool done = method_cv_.wait_for(lock, std::chrono::seconds(timeout_s),
                                  [&] { return pending_methods_[rid].done; });
  PendingMethod result = pending_methods_[rid];
  pending_methods_.erase(rid);
  if (!done)
    return edge::fail(hub_error(ErrorKind::Timeout, "GatewayTimeout",
                                "Timed out waiting for the response from device."));
  Json answer = Json::parse(result.payload, nullptr, false);
  if (answer.is_discarded()) answer = result.payload.empty() ? Json() : Json(result.payload);
  return Json{{"status", result.status}, {"payload", answer}};
}

}  // namespace emulator
