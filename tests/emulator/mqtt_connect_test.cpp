#include "emulator/mqtt_connect.h"

#include <catch2/catch.hpp>

using namespace emulator::mqtt;

// CONNECT v3.1.1, client id "d", user name "u", no password.
static std::string connect_packet() {
  std::string body = std::string("\x00\x04MQTT\x04\x82\x00\x3c", 10) +
                     std::string(
                         "\x00\x01"
                         "d",
                         3) +
                     std::string(
                         "\x00\x01"
                         "u",
                         3);
  return std::string(1, '\x10') + std::string(1, static_cast<char>(body.size())) + body;
}

TEST_CASE("the first MQTT packet's length is found once it is complete") {
  std::string p = connect_packet();
  CHECK(packet_length(p.substr(0, 1)) == 0u);
  CHECK(packet_length(p.substr(0, 5)) == 0u);
  CHECK(packet_length(p) == p.size());
  CHECK(packet_length(p + "extra") == p.size());
  CHECK_FALSE(packet_length(std::string("\x10\xff\xff\xff\xff\x7f", 6)));
}

TEST_CASE("a password is added to a CONNECT that has a user name and none") {
  std::string p = connect_packet();
  auto out = add_password(p, "x509-session:abc");
  REQUIRE(out);
  CHECK((static_cast<unsigned char>((*out)[9]) & 0x40) == 0x40);  // connect flags
  CHECK(packet_length(*out) == out->size());
  CHECK(out->substr(out->size() - 16) == "x509-session:abc");
  CHECK_FALSE(add_password(*out, "again"));            // already has a password
  CHECK_FALSE(add_password("\x20\x02\x00\x00", "x"));  // not a CONNECT
}
