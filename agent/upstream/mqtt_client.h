// One MQTT 3.1.1 session over a Transport: CONNECT/CONNACK, SUBSCRIBE/SUBACK, QoS 0/1
// publishes both ways, keep-alive pings. Single-threaded: the owner calls poll() in a loop;
// reconnecting is the caller's job (a new session with a fresh token).
#pragma once
#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "agent/upstream/mqtt_packet.h"
#include "agent/upstream/transport.h"

namespace agent::upstream {

class MqttSession {
 public:
  // Sends CONNECT and waits for CONNACK; a refusal is an Unauthorized error naming the reason.
  static edge::Result<std::unique_ptr<MqttSession>> connect(std::unique_ptr<Transport> transport,
                                                            const mqtt::ConnectOptions& options,
                                                            std::chrono::milliseconds timeout);
  // Subscribes and waits for SUBACK (publishes that arrive meanwhile are kept for poll()).
  edge::Status subscribe(const std::vector<std::pair<std::string, int>>& filters,
                         std::chrono::milliseconds timeout);
  // Queues a publish; QoS 1 messages stay in flight until PUBACK.
  void publish(const std::string& topic, const std::string& payload, int qos = 0);
  // Waits up to `wait` for traffic (or `wake_fd` readable, when >= 0), handles acks and
  // keep-alive, and returns the messages received. An error means the session is over.
  edge::Result<std::vector<mqtt::Message>> poll(std::chrono::milliseconds wait, int wake_fd = -1);
  void disconnect();  // best effort DISCONNECT
  size_t in_flight() const { return in_flight_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  MqttSession(std::unique_ptr<Transport> t, uint16_t keepalive)
      : transport_(std::move(t)), keepalive_(keepalive) {}
  void send(const std::string& bytes);
  edge::Status pump(std::chrono::milliseconds wait, int wake_fd);
  edge::Status handle(mqtt::Packet packet);

  std::unique_ptr<Transport> transport_;
  std::chrono::seconds keepalive_;
  std::string in_;
  std::vector<mqtt::Message> received_;
  std::vector<mqtt::Packet> control_;  // CONNACK / SUBACK awaited by connect() / subscribe()
  std::map<uint16_t, std::string> in_flight_;
  uint16_t next_id_ = 1;
  Clock::time_point last_sent_ = Clock::now(), last_received_ = Clock::now();
  bool ping_outstanding_ = false;
};

}  // namespace agent::upstream
