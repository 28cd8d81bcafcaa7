#include "emulator/mqtt_connect.h"

#include <cstdint>

namespace emulator::mqtt {

namespace {
// Decodes the variable-length "remaining length"; returns {value, bytes used} or used=0 (short).
struct VarInt {
  size_t value = 0;
  size_t used = 0;
  bool bad = false;
};
VarInt read_remaining_length(const std::string& b) {
  VarInt v;
  size_t mult = 1;
  for (size_t i = 1; i < b.size() && i <= 4; ++i) {
    auto byte = static_cast<unsigned char>(b[i]);
    v.value += (byte & 0x7f) * mult;
    mult *= 128;
    if (!(byte & 0x80)) {
      v.used = i;
      return v;
    }
  }
  v.bad = b.size() > 4;
  return v;
}

std::string encode_remaining_length(size_t n) {
  std::string out;
  do {
    auto byte = static_cast<unsigned char>(n % 128);
    n /= 128;
    if (n) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (n);
  return out;
}
}  // namespace

std::optional<size_t> packet_length(const std::string& bytes) {
  if (bytes.size() < 2) return 0;
  VarInt v = read_remaining_length(bytes);
  if (v.bad) return std::nullopt;
  if (v.used == 0) return 0;
  size_t total = 1 + v.used + v.value;
  return bytes.size() >= total ? total : 0;
}

std::optional<std::string> add_password(const std::string& packet, const std::string& password) {
  if (packet.empty() || (static_cast<unsigned char>(packet[0]) & 0xf0) != 0x10) return std::nullopt;
  VarInt v = read_remaining_length(packet);
  if (v.bad || v.used == 0 || packet.size() != 1 + v.used + v.value) return std::nullopt;
  size_t pos = 1 + v.used;
  if (pos + 2 > packet.size()) return std::nullopt;
  size_t name_len =
      (static_cast<unsigned char>(packet[pos]) << 8) | static_cast<unsigned char>(packet[pos + 1]);
  size_t flags_at = pos + 2 + name_len + 1;
  if (flags_at >= packet.size() || password.size() > 0xffff) return std::nullopt;
  auto flags = static_cast<unsigned char>(packet[flags_at]);
  constexpr unsigned char kUser = 0x80, kPassword = 0x40;
  if (!(flags & kUser) || (flags & kPassword)) return std::nullopt;
  // The password is the last field of the payload in MQTT 3.1.1 and 5: append it.
  std::string body = packet.substr(pos);
  body[flags_at - pos] = static_cast<char>(flags | kPassword);
  body.push_back(static_cast<char>((password.size() >> 8) & 0xff));
  body.push_back(static_cast<char>(password.size() & 0xff));
  body += password;
  return std::string(1, packet[0]) + encode_remaining_length(body.size()) + body;
}

}  // namespace emulator::mqtt
