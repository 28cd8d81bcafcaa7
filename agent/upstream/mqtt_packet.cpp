#include "agent/upstream/mqtt_packet.h"

namespace agent::mqtt {
using edge::invalid;

namespace {
void put16(std::string& out, size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_string(std::string& out, std::string_view s) {
  put16(out, s.size());
  out.append(s);
}
std::string frame(Type type, uint8_t flags, const std::string& body) {
  std::string out;
  out.push_back(static_cast<char>((static_cast<uint8_t>(type) << 4) | flags));
  size_t n = body.size();
  do {
    uint8_t byte = n % 128;
    n /= 128;
    if (n > 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (n > 0);
  return out + body;
}
uint16_t get16(std::string_view s, size_t at) {
  return static_cast<uint16_t>((static_cast<uint8_t>(s[at]) << 8) |
                               static_cast<uint8_t>(s[at + 1]));
}
}  // namespace

std::string encode_connect(const ConnectOptions& o) {
  std::string body;
  put_string(body, "MQTT");
  body.push_back(4);            // protocol level 3.1.1
  uint8_t flags = 0x80 | 0x40;  // user name + password
  if (o.clean_session) flags |= 0x02;
  body.push_back(static_cast<char>(flags));
  put16(body, o.keepalive_seconds);
  put_string(body, o.client_id);
  put_string(body, o.username);
  put_string(body, o.password);
  return frame(Type::Connect, 0, body);
}

std::string encode_publish(const Message& m) {
  std::string body;
  put_string(body, m.topic);
  if (m.qos > 0) put16(body, m.packet_id);
  body += m.payload;
  return frame(Type::Publish, static_cast<uint8_t>(m.qos << 1), body);
}

std::string encode_subscribe(uint16_t id, const std::vector<std::pair<std::string, int>>& filters) {
  std::string body;
  put16(body, id);
  for (const auto& [filter, qos] : filters) {
    put_string(body, filter);
    body.push_back(static_cast<char>(qos));
  }
  return frame(Type::Subscribe, 0x02, body);
}

std::string encode_puback(uint16_t id) {
  std::string body;
  put16(body, id);
  return frame(Type::Puback, 0, body);
}
std::string encode_pingreq() { return frame(Type::Pingreq, 0, ""); }
std::string encode_disconnect() { return frame(Type::Disconnect, 0, ""); }

edge::Result<std::optional<Packet>> take_packet(std::string& buffer, size_t max_size) {
  if (buffer.empty()) return std::optional<Packet>();
  auto first = static_cast<uint8_t>(buffer[0]);
  auto type = static_cast<Type>(first >> 4);
  uint8_t flags = first & 0x0f;
  switch (type) {
    case Type::Publish:
      break;
    case Type::Connack:
    case Type::Puback:
    case Type::Suback:
    case Type::Unsuback:
    case Type::Pingresp:
      if (flags != 0) return invalid("MQTT packet with invalid flags");
      break;
    default:
      return invalid("unexpected MQTT packet type " + std::to_string(first >> 4) +
                     " from the server");
  }
  size_t length = 0, multiplier = 1, pos = 1;
  for (;;) {
    if (pos >= buffer.size()) return std::optional<Packet>();
    if (pos > 4) return invalid("malformed MQTT remaining length");
    auto byte = static_cast<uint8_t>(buffer[pos++]);
    length += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if (!(byte & 0x80)) break;
  }
  if (length > max_size)
    return invalid("MQTT packet of " + std::to_string(length) + " bytes exceeds the limit");
  if (buffer.size() < pos + length) return std::optional<Packet>();
  Packet p{type, flags, buffer.substr(pos, length)};
  buffer.erase(0, pos + length);
  return std::optional<Packet>(std::move(p));
}

edge::Result<int> decode_connack(const Packet& p) {
  if (p.type != Type::Connack || p.body.size() != 2) return invalid("malformed CONNACK");
  return static_cast<uint8_t>(p.body[1]);
}

edge::Result<Message> decode_publish(const Packet& p) {
  Message m;
  m.qos = (p.flags >> 1) & 3;
  if (p.type != Type::Publish || m.qos == 3) return invalid("malformed PUBLISH");
  if (p.body.size() < 2) return invalid("malformed PUBLISH");
  size_t len = get16(p.body, 0);
  size_t pos = 2 + len;
  if (len == 0 || p.body.size() < pos + (m.qos ? 2 : 0)) return invalid("malformed PUBLISH topic");
  m.topic = p.body.substr(2, len);
  if (m.topic.find('\0') != std::string::npos || m.topic.find_first_of("+#") != std::string::npos)
    return invalid("invalid PUBLISH topic");
  if (m.qos) {
    m.packet_id = get16(p.body, pos);
    pos += 2;
  }
  m.payload = p.body.substr(pos);
  return m;
}

edge::Result<Suback> decode_suback(const Packet& p) {
  if (p.type != Type::Suback || p.body.size() < 3) return invalid("malformed SUBACK");
  Suback s{get16(p.body, 0), {}};
  for (size_t i = 2; i < p.body.size(); ++i) s.codes.push_back(static_cast<uint8_t>(p.body[i]));
  return s;
}

edge::Result<uint16_t> decode_puback(const Packet& p) {
  if (p.type != Type::Puback || p.body.size() != 2) return invalid("malformed PUBACK");
  return get16(p.body, 0);
}

std::string connack_reason(int code) {
  switch (code) {
    case 1:
      return "unacceptable protocol version";
    case 2:
      return "identifier rejected";
    case 3:
      return "server unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorized";
    default:
      return "refused with code " + std::to_string(code);
  }
}

}  // namespace agent::mqtt
