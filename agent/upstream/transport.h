// Byte streams to the hub: TLS over TCP (8883) or a WebSocket (subprotocol "mqtt") over TLS
// (443, optionally through an HTTP CONNECT proxy). Non-blocking once open: the MQTT client
// polls fd() and calls receive()/flush(). Server certificates are verified against the trust
// bundle (and the system store), with SNI and host-name checks.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/cloud/exchange.h"
#include "common/result.h"

namespace agent::upstream {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int fd() const = 0;
  // Queues application bytes; flush() writes them.
  virtual void send(std::string_view bytes) = 0;
  // Writes what the socket takes; true when nothing is left queued.
  virtual edge::Result<bool> flush() = 0;
  // Appends the application bytes available now; an error when the peer closed or misbehaved.
  virtual edge::Status receive(std::string& into) = 0;
  // Bytes already decrypted but not yet returned (poll() would not report them).
  virtual bool has_buffered_input() const = 0;
};

struct TransportOptions {
  std::string host;
  uint16_t port = 8883;
  bool websocket = false;                   // wss://host:port/$iothub/websocket
  std::optional<edge::cloud::Proxy> proxy;  // only used for websockets, as upstream
  std::string trust_bundle_pem;             // trusted roots, tried first
  bool system_roots = true;                 // then the system's (tls.h)
  std::chrono::milliseconds timeout{30000};  // TCP + proxy + TLS + WebSocket upgrade
};

edge::Result<std::unique_ptr<Transport>> open_transport(const TransportOptions& options);

constexpr size_t kMaxWebSocketFrame = 512 * 1024 + 16;

}  // namespace agent::upstream
