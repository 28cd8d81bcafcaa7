#include "edged/events.h"

#include <chrono>
#include <set>
#include <thread>

#include "common/http/client.h"
#include "common/uri.h"
#include "edged/module.h"

namespace edged {
using edge::http::Json;
using edge::http::Request;
using edge::http::Response;

namespace {
// How long the stream may stay quiet before a keep-alive line (which is also how a client that
// went away is noticed, and how a stopping server ends the stream).
constexpr auto kKeepAlive = std::chrono::milliseconds(2000);
constexpr size_t kMaxEventBytes = 64 * 1024;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string engine_since(int64_t ns) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(ns / 1'000'000'000),
                static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

// Streams engine events from `since_ns` on; each forwarded line goes to `sink`. Returns false
// when the client is gone.
bool relay(const std::string& docker_socket, const std::string& owner, int64_t& since_ns,
           const edge::http::ChunkSink& sink) {
  Json filters{{"type", {"container"}}, {"label", {std::string(kOwnerLabel) + "=" + owner}}};
  std::string target = "/v1.41/events?filters=" + edge::uri::percent_encode(filters.dump()) +
                       "&since=" + engine_since(since_ns);
  edge::http::UnixClient engine(docker_socket, std::chrono::seconds(10));
  std::string buffer;
  bool client_gone = false;
  auto r = engine.stream(
      "GET", target, "", "", {},
      [&](std::string_view piece) {
        buffer.append(piece);
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
          auto e = Json::parse(buffer.substr(0, nl), nullptr, false);
          buffer.erase(0, nl + 1);
          if (!e.is_object()) continue;
          if (e.contains("timeNano") && e["timeNano"].is_number_integer())
            since_ns = std::max(since_ns, e["timeNano"].get<int64_t>() + 1);
          std::string line = event_line(e);
          if (!line.empty() && !sink(line)) {
            client_gone = true;
            return false;
          }
        }
        return buffer.size() < kMaxEventBytes;
      },
      kKeepAlive);
  if (client_gone) return false;
  if (!r) std::this_thread::sleep_for(std::chrono::milliseconds(200));  // engine down: don't spin
  return sink("\n");
}
}  // namespace

std::string event_line(const Json& e) {
  static const std::set<std::string> forwarded = {"create", "start",   "restart", "die",
                                                  "stop",   "kill",    "oom",     "destroy",
                                                  "pause",  "unpause", "rename"};
  std::string action = e.value("Action", e.value("status", ""));
  const Json actor = e.value("Actor", Json::object());
  const Json attributes = actor.value("Attributes", Json::object());
  bool health = action.starts_with("health_status");
  if (!forwarded.count(action) && !health) return "";
  if (!attributes.is_object() || !attributes.contains("name") || !attributes["name"].is_string())
    return "";
  Json out{{"name", attributes["name"]},
           {"action", action},
           {"timeNano", e.value("timeNano", int64_t{0})}};
  if (action == "die" && attributes.contains("exitCode") && attributes["exitCode"].is_string()) {
    try {
      out["exitCode"] = std::stoi(attributes["exitCode"].get<std::string>());
    } catch (const std::exception&) {  // not a number: leave it out
    }
  }
  return out.dump() + "\n";
}

void add_event_routes(edge::http::Router& router, const std::string& docker_socket,
                      const std::string& owner) {
  router.add("GET", "/events", {"2018-06-28", ""},
             [docker_socket, owner](Request&) -> edge::Result<Response> {
               Response resp;
               resp.content_type = "application/x-ndjson";
               resp.stream = [docker_socket, owner](const edge::http::ChunkSink& sink) {
                 int64_t since = now_ns();
                 if (!sink("\n")) return;  // the head and a first line go out at once
                 while (relay(docker_socket, owner, since, sink)) {
                 }
               };
               return resp;
             });
}

}  // namespace edged
