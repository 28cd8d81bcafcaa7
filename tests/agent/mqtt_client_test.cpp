// The agent's own MQTT client against the hub emulator: TLS on 8883, WebSockets on 443, through
// tinyproxy with and without credentials; refused credentials and hostile peers fail clearly.
#include "agent/upstream/mqtt_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "agent/upstream/sas.h"
#include "tests/agent/hub_fixture.h"

using namespace agent::upstream;
namespace mqtt = agent::mqtt;
using agent_test::HubEmulator;
using agent_test::Json;
using namespace std::chrono_literals;

namespace {
mqtt::ConnectOptions options(const HubEmulator& hub, const std::string& dev,
                             const std::string& key) {
  KeySigner signer{edge::Secret(key)};
  auto token = make_sas_token(signer, hub.address() + "/devices/" + dev + "/modules/$edgeAgent",
                              std::time(nullptr) + 600);
  REQUIRE(token);
  mqtt::ConnectOptions o;
  o.client_id = dev + "/$edgeAgent";
  o.username = hub.address() + "/" + o.client_id + "/?api-version=2021-04-12";
  o.password = std::string(token->view());
  return o;
}

TransportOptions transport(const HubEmulator& hub, bool ws) {
  TransportOptions t;
  t.host = hub.address();
  t.port = ws ? 443 : 8883;
  t.websocket = ws;
  t.trust_bundle_pem = hub.ca_pem();
  t.system_roots = false;
  t.timeout = 10s;
  return t;
}

// The emulator's WebSocket side may answer 503 for a moment after it reports ready.
edge::Result<std::unique_ptr<Transport>> open(const TransportOptions& t) {
  auto r = open_transport(t);
  for (int i = 0; i < 40 && !r && r.error().message.find(" 503 ") != std::string::npos; ++i) {
    std::this_thread::sleep_for(250ms);
    r = open_transport(t);
  }
  return r;
}

// Twin GET and a reported patch, the way the agent uses the session.
void twin_round_trip(MqttSession& s, HubEmulator& hub, const std::string& dev,
                     const std::string& mark) {
  REQUIRE(s.subscribe({{"$iothub/twin/res/#", 0}, {"$iothub/methods/POST/#", 0}}, 10s));
  s.publish("$iothub/twin/GET/?$rid=1", " ");
  s.publish("$iothub/twin/PATCH/properties/reported/?$rid=2", Json{{"mark", mark}}.dump());
  std::map<std::string, std::string> replies;
  for (int i = 0; i < 50 && replies.size() < 2; ++i) {
    auto got = s.poll(200ms);
    REQUIRE(got);
    for (const auto& m : *got) replies[m.topic.substr(0, m.topic.find("/?"))] = m.payload;
  }
  REQUIRE(replies.count("$iothub/twin/res/200"));
  CHECK(Json::parse(replies["$iothub/twin/res/200"]).contains("desired"));
  REQUIRE(replies.count("$iothub/twin/res/204"));
  CHECK(hub.agent_twin(dev)["properties"]["reported"]["mark"] == mark);
}
}  // namespace

TEST_CASE("mqtt client talks to the hub over TLS and WebSockets", "[integration]") {
  HubEmulator hub;
  std::string key = hub.create_edge_device("edge1");
  for (bool ws : {false, true}) {
    INFO((ws ? "MqttWs" : "Mqtt"));
    auto t = open(transport(hub, ws));
    REQUIRE(t);
    auto s = MqttSession::connect(std::move(*t), options(hub, "edge1", key), 10s);
    INFO(hub.log());
    REQUIRE(s);
    twin_round_trip(**s, hub, "edge1", ws ? "ws" : "tls");
    // QoS 1 telemetry is acknowledged by the broker.
    (*s)->publish("devices/edge1/modules/$edgeAgent/messages/events/", "{}", 1);
    for (int i = 0; i < 20 && (*s)->in_flight(); ++i) REQUIRE((*s)->poll(100ms));
    CHECK((*s)->in_flight() == 0);
    (*s)->disconnect();
  }
}

TEST_CASE("mqtt client reaches the hub through an HTTP CONNECT proxy", "[integration]") {
  HubEmulator hub;
  std::string key = hub.create_edge_device("edge1");
  SECTION("without credentials") {
    agent_test::Tinyproxy proxy;
    auto t = transport(hub, true);
    t.proxy = *edge::cloud::parse_proxy(proxy.url());
    auto tr = open(t);
    INFO(proxy.log());
    INFO((tr ? std::string() : tr.error().message));
    REQUIRE(tr);
    auto s = MqttSession::connect(std::move(*tr), options(hub, "edge1", key), 10s);
    REQUIRE(s);
    twin_round_trip(**s, hub, "edge1", "proxied");
    CHECK_THAT(proxy.log(), Catch::Contains("CONNECT"));
  }
  SECTION("with Basic credentials, and refused with wrong ones") {
    agent_test::Tinyproxy proxy("agent", "s3cret");
    auto t = transport(hub, true);
    t.proxy = *edge::cloud::parse_proxy(proxy.url("agent:s3cret"));
    auto tr = open(t);
    INFO(proxy.log());
    INFO((tr ? std::string() : tr.error().message));
    REQUIRE(tr);
    auto s = MqttSession::connect(std::move(*tr), options(hub, "edge1", key), 10s);
    REQUIRE(s);
    twin_round_trip(**s, hub, "edge1", "authenticated");
    t.proxy = *edge::cloud::parse_proxy(proxy.url("agent:wrong"));
    auto refused = open_transport(t);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().message,
               Catch::Contains("refused CONNECT"));                  // tinyproxy answers 401
    CHECK_THAT(refused.error().message, !Catch::Contains("wrong"));  // no password in errors
  }
}

TEST_CASE("mqtt client reports refused credentials and untrusted servers clearly",
          "[integration]") {
  HubEmulator hub;
  hub.create_edge_device("edge1");
  auto t = open_transport(transport(hub, false));
  REQUIRE(t);
  auto s = MqttSession::connect(
      std::move(*t), options(hub, "edge1", "d3JvbmcgbW9kdWxlIGtleSB3cm9uZyBtb2R1bGUga2V5IQ=="),
      10s);
  REQUIRE_FALSE(s);
  CHECK(s.error().kind == edge::ErrorKind::Unauthorized);
  CHECK_THAT(s.error().message, Catch::Contains("not authorized"));

  auto untrusted = transport(hub, false);
  untrusted.trust_bundle_pem.clear();
  auto u = open_transport(untrusted);
  REQUIRE_FALSE(u);
  CHECK_THAT(u.error().message, Catch::Contains("not trusted"));
}

namespace {
// A transport over a socketpair: the test plays a misbehaving server.
class PairTransport : public Transport {
 public:
  explicit PairTransport(int fd) : fd_(fd) {}
  ~PairTransport() override { ::close(fd_); }
  int fd() const override { return fd_; }
  void send(std::string_view bytes) override { out_ += bytes; }
  edge::Result<bool> flush() override {
    if (!out_.empty()) (void)::send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    out_.clear();
    return true;
  }
  edge::Status receive(std::string& into) override {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return edge::fail(edge::ErrorKind::Unavailable, "closed");
    if (n > 0) into.append(buf, static_cast<size_t>(n));
    return {};
  }
  bool has_buffered_input() const override { return false; }

 private:
  int fd_;
  std::string out_;
};
}  // namespace

TEST_CASE("mqtt client rejects garbage and oversized packets from the server", "[unit]") {
  struct Case {
    const char* what;
    std::string bytes;
  };
  std::string huge_header("\x30\xff\xff\xff\x7f", 5);  // PUBLISH of 256 MB announced
  std::vector<Case> cases = {
      {"unknown packet type", std::string("\xf0\x00", 2)},
      {"SUBSCRIBE from a server", std::string("\x82\x02\x00\x01", 4)},
      {"five length bytes", std::string("\x30\xff\xff\xff\xff\x01", 6)},
      {"oversized publish", huge_header},
      {"bad CONNACK", std::string("\x20\x03\x00\x00\x00", 5)},
      {"close", ""},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    std::thread server([&] {
      char buf[1024];
      (void)::recv(sv[1], buf, sizeof buf, 0);  // CONNECT
      if (!c.bytes.empty()) (void)::send(sv[1], c.bytes.data(), c.bytes.size(), MSG_NOSIGNAL);
      ::close(sv[1]);
    });
    mqtt::ConnectOptions o{"dev/$edgeAgent", "hub/dev/$edgeAgent/?api-version=2021-04-12", "token",
                           60, false};
    auto s = MqttSession::connect(std::make_unique<PairTransport>(sv[0]), o, 2s);
    server.join();
    CHECK_FALSE(s);
  }
  // A connected session survives nothing malformed: a bad PUBLISH ends it with an error.
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  std::string connack("\x20\x02\x00\x00", 4), bad_publish("\x30\x03\x00\x05x", 5);
  (void)::send(sv[1], connack.data(), connack.size(), 0);
  mqtt::ConnectOptions o{"dev/$edgeAgent", "u", "p", 60, false};
  auto s = MqttSession::connect(std::make_unique<PairTransport>(sv[0]), o, 2s);
  REQUIRE(s);
  (void)::send(sv[1], bad_publish.data(), bad_publish.size(), 0);
  auto polled = (*s)->poll(500ms);
  CHECK_FALSE(polled);
  ::close(sv[1]);
}

TEST_CASE("mqtt packets round trip and partial input waits for more", "[unit]") {
  std::string bytes =
      mqtt::encode_publish({"$iothub/twin/res/200/?$rid=1", std::string(300, 'x'), 1, 7});
  // A server PUBLISH has the same shape: decode it back piece by piece.
  std::string buffer;
  for (size_t i = 0; i + 1 < bytes.size(); ++i) {
    buffer += bytes[i];
    auto p = mqtt::take_packet(buffer);
    REQUIRE(p);
    REQUIRE_FALSE(*p);
  }
  buffer += bytes.back();
  auto p = mqtt::take_packet(buffer);
  REQUIRE(p);
  REQUIRE(*p);
  auto m = mqtt::decode_publish(**p);
  REQUIRE(m);
  CHECK(m->topic == "$iothub/twin/res/200/?$rid=1");
  CHECK(m->payload.size() == 300);
  CHECK(m->qos == 1);
  CHECK(m->packet_id == 7);
  CHECK(buffer.empty());
  std::string too_big =
      mqtt::encode_publish({"t", std::string(mqtt::kMaxPacketSize + 1, 'x'), 0, 0});
  CHECK_FALSE(mqtt::take_packet(too_big));
}
