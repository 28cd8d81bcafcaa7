// MQTT 3.1.1 packets the agent needs as a client: encoders for what it sends and strict,
// size-bounded decoders for what a server may send (anything else is a protocol error).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace agent::mqtt {

// IoT Hub caps messages at 256 KB; twin documents are far smaller. Anything larger is hostile.
constexpr size_t kMaxPacketSize = 512 * 1024;

enum class Type : uint8_t {
  Connect = 1,
  Connack = 2,
  Publish = 3,
  Puback = 4,
  Pubrec = 5,
  Pubrel = 6,
  Pubcomp = 7,
  Subscribe = 8,
  Suback = 9,
  Unsubscribe = 10,
  Unsuback = 11,
  Pingreq = 12,
  Pingresp = 13,
  Disconnect = 14,
};

struct Packet {
  Type type;
  uint8_t flags = 0;  // low nibble of the fixed header
  std::string body;   // variable header + payload
};

struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  uint16_t packet_id = 0;  // QoS 1 only
};

struct ConnectOptions {
  std::string client_id;
  std::string username;
  std::string password;  // a SAS token: the caller wipes the encoded packet
  uint16_t keepalive_seconds = 180;
  bool clean_session = false;
};

std::string encode_connect(const ConnectOptions& options);
std::string encode_publish(const Message& message);
std::string encode_subscribe(uint16_t packet_id,
                             const std::vector<std::pair<std::string, int>>& filters);
std::string encode_puback(uint16_t packet_id);
std::string encode_pingreq();
std::string encode_disconnect();

// Removes one complete packet from the front of `buffer`; nullopt while more bytes are needed.
// Packets a server never sends, bad flags, malformed lengths and oversized packets are errors.
edge::Result<std::optional<Packet>> take_packet(std::string& buffer,
                                                size_t max_size = kMaxPacketSize);

// CONNACK: the return code (0 accepted, 1..5 refused).
edge::Result<int> decode_connack(const Packet& packet);
edge::Result<Message> decode_publish(const Packet& packet);
struct Suback {
  uint16_t packet_id;
  std::vector<uint8_t> codes;  // granted QoS or 0x80 failure, one per filter
};
edge::Result<Suback> decode_suback(const Packet& packet);
edge::Result<uint16_t> decode_puback(const Packet& packet);
// Text for a CONNACK refusal code.
std::string connack_reason(int code);

}  // namespace agent::mqtt
