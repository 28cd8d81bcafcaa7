// Just enough MQTT framing for the TLS front of port 8883: find where the first packet (CONNECT)
// ends, and hand a client-certificate identity to the broker plugin by adding a one-time
// password to a CONNECT that has none. (mosquitto only asks for client certificates when every
// client must present one, which would lock out SAS devices, so the front terminates TLS.)
#pragma once
#include <optional>
#include <string>

namespace emulator::mqtt {

// Prefix of passwords that carry a certificate session id instead of a SAS token.
inline constexpr const char* kCertSessionPrefix = "x509-session:";

// Total length of the first packet in `bytes` (fixed header + remaining length), 0 when more
// bytes are needed, nullopt when it cannot be MQTT (bad remaining length).
std::optional<size_t> packet_length(const std::string& bytes);

// If `packet` is a CONNECT with a user name and no password, returns it with `password` added.
// Otherwise nullopt (forward unchanged).
std::optional<std::string> add_password(const std::string& packet, const std::string& password);

}  // namespace emulator::mqtt
