#include "agent/upstream/mqtt_client.h"

#include <string.h>
#include <poll.h>
#include <unistd.h>

namespace agent::upstream {
using edge::ErrorKind;
using edge::fail;
using edge::Result;
using edge::Status;

Result<std::unique_ptr<MqttSession>> MqttSession::connect(std::unique_ptr<Transport> transport,
                                                          const mqtt::ConnectOptions& options,
                                                          std::chrono::milliseconds timeout) {
  std::unique_ptr<MqttSession> s(new MqttSession(std::move(transport), options.keepalive_seconds));
  std::string packet = mqtt::encode_connect(options);
  s->send(packet);
  ::explicit_bzero(packet.data(), packet.size());  // it holds the SAS token
  auto deadline = Clock::now() + timeout;
  while (s->control_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(ErrorKind::Timeout, "no CONNACK from the server");
    EDGE_TRY_VOID(s->pump(left, -1));
  }
  auto code = EDGE_TRY(mqtt::decode_connack(s->control_.front()));
  s->control_.clear();
  if (code != 0)
    return fail(ErrorKind::Unauthorized,
                "the server refused the connection: " + mqtt::connack_reason(code));
  return s;
}

Status MqttSession::subscribe(const std::vector<std::pair<std::string, int>>& filters,
                              std::chrono::milliseconds timeout) {
  uint16_t id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  send(mqtt::encode_subscribe(id, filters));
  auto deadline = Clock::now() + timeout;
  for (;;) {
    for (auto it = control_.begin(); it != control_.end(); ++it) {
      if (it->type != mqtt::Type::Suback) continue;
      auto ack = EDGE_TRY(mqtt::decode_suback(*it));
      control_.erase(it);
      if (ack.packet_id != id || ack.codes.size() != filters.size())
        return edge::invalid("SUBACK does not match the SUBSCRIBE");
      for (size_t i = 0; i < ack.codes.size(); ++i)
        if (ack.codes[i] & 0x80)
          return fail(ErrorKind::Forbidden,
                      "the server refused the subscription to " + filters[i].first);
      return {};
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return fail(ErrorKind::Timeout, "no SUBACK from the server");
    EDGE_TRY_VOID(pump(left, -1));
  }
}

void MqttSession::publish(const std::string& topic, const std::string& payload, int qos) {
  mqtt::Message m{topic, payload, qos, 0};
  if (qos > 0) {
    m.packet_id = next_id_++;
    if (next_id_ == 0) next_id_ = 1;
  }
  std::string bytes = mqtt::encode_publish(m);
  if (qos > 0) in_flight_[m.packet_id] = bytes;
  send(bytes);
}

void MqttSession::send(const std::string& bytes) {
  transport_->send(bytes);
  last_sent_ = Clock::now();
}

Result<std::vector<mqtt::Message>> MqttSession::poll(std::chrono::milliseconds wait, int wake_fd) {
  EDGE_TRY_VOID(pump(wait, wake_fd));
  return std::exchange(received_, {});
}

Status MqttSession::pump(std::chrono::milliseconds wait, int wake_fd) {
  auto now = Clock::now();
  // Keep-alive: ping after half the interval of silence; the server must answer within it.
  if (ping_outstanding_ && now - last_received_ > keepalive_)
    return fail(ErrorKind::Timeout, "the server did not answer a ping");
  if (!ping_outstanding_ && now - last_sent_ >= keepalive_ / 2) {
    send(mqtt::encode_pingreq());
    ping_outstanding_ = true;
  }
  bool flushed = EDGE_TRY(transport_->flush());
  auto until_ping =
      std::chrono::duration_cast<std::chrono::milliseconds>(last_sent_ + keepalive_ / 2 - now);
  wait = std::max(std::chrono::milliseconds(0), std::min(wait, until_ping));
  if (!transport_->has_buffered_input()) {  // in_ holds at most a partial packet here
    pollfd fds[2] = {{transport_->fd(), static_cast<short>(POLLIN | (flushed ? 0 : POLLOUT)), 0},
                     {wake_fd, POLLIN, 0}};
    int r = ::poll(fds, wake_fd >= 0 ? 2 : 1, static_cast<int>(wait.count()));
    if (r < 0 && errno != EINTR) return fail(ErrorKind::Unavailable, "poll failed");
    if (r <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!flushed) EDGE_TRY(transport_->flush());
      return {};
    }
  }
  size_t before = in_.size();
  EDGE_TRY_VOID(transport_->receive(in_));
  if (in_.size() != before) last_received_ = Clock::now();
  for (;;) {
    auto packet = EDGE_TRY(mqtt::take_packet(in_));
    if (!packet) break;
    EDGE_TRY_VOID(handle(std::move(*packet)));
  }
  EDGE_TRY(transport_->flush());
  return {};
}

Status MqttSession::handle(mqtt::Packet p) {
  switch (p.type) {
    case mqtt::Type::Pingresp:
      ping_outstanding_ = false;
      return {};
    case mqtt::Type::Connack:
    case mqtt::Type::Suback:
      if (control_.size() > 8) return edge::invalid("unsolicited acknowledgements from the server");
      control_.push_back(std::move(p));
      return {};
    case mqtt::Type::Puback:
      in_flight_.erase(EDGE_TRY(mqtt::decode_puback(p)));
      return {};
    case mqtt::Type::Publish: {
      auto m = EDGE_TRY(mqtt::decode_publish(p));
      if (m.qos == 2) return edge::invalid("QoS 2 publish from the server");
      if (m.qos == 1) send(mqtt::encode_puback(m.packet_id));
      if (received_.size() >= 256) return edge::invalid("the server floods publishes");
      received_.push_back(std::move(m));
      return {};
    }
    default:
      return edge::invalid("unexpected MQTT packet from the server");
  }
}

void MqttSession::disconnect() {
  send(mqtt::encode_disconnect());
  (void)transport_->flush();
}

}  // namespace agent::upstream
