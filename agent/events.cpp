#include "agent/events.h"

#include <chrono>

#include "common/http/client.h"
#include "common/log.h"

namespace agent {
using edge::http::Json;

namespace {
constexpr auto kIdle = std::chrono::milliseconds(5000);  // edged sends a keep-alive every 2 s
constexpr auto kPollPeriod = std::chrono::milliseconds(500);
constexpr size_t kMaxLine = 64 * 1024;
}  // namespace

ModuleEvents::ModuleEvents(std::string socket, std::string api_version,
                           std::function<void(const ModuleEvent&)> on_change)
    : socket_(std::move(socket)),
      api_version_(std::move(api_version)),
      on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { run(); });
}

ModuleEvents::~ModuleEvents() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool ModuleEvents::follow_stream() {
  edge::http::UnixClient client(socket_, std::chrono::seconds(10));
  std::string buffer;
  bool connected = false;
  auto r = client.stream(
      "GET", "/events?api-version=" + api_version_, "", "", {},
      [&](std::string_view piece) {
        streaming_ = connected = true;
        buffer.append(piece);
        size_t nl;
        while ((nl = buffer.find('\n')) != std::string::npos) {
          auto e = Json::parse(buffer.substr(0, nl), nullptr, false);
          buffer.erase(0, nl + 1);
          if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) continue;
          ModuleEvent ev{e["name"], e.value("action", ""), 0};
          if (e.contains("exitCode") && e["exitCode"].is_number_integer())
            ev.exit_code = e["exitCode"];
          on_change_(ev);
        }
        return !stop_ && buffer.size() < kMaxLine;
      },
      kIdle);
  streaming_ = false;
  if (r && r->status == 404) return false;
  // Ended, edged restarted or the stream went quiet: something may have changed meanwhile.
  if (connected && !stop_) on_change_(ModuleEvent{"", "reconnect", 0});
  return true;
}

void ModuleEvents::poll_once(std::string& last) {
  edge::http::UnixClient client(socket_, std::chrono::seconds(10));
  auto r = client.request("GET", "/modules?api-version=" + api_version_);
  if (!r || r->status != 200) return;
  auto j = r->json();
  if (!j || !j->is_object()) return;
  // Names and statuses with their times: any start, exit or removal changes this text.
  std::string fingerprint;
  for (const auto& m : j->value("modules", Json::array()))
    if (m.is_object())
      fingerprint += m.value("name", "") + m.value("status", Json::object()).dump() + "\n";
  if (!last.empty() && fingerprint != last) on_change_(ModuleEvent{"", "changed", 0});
  last = fingerprint;
}

void ModuleEvents::run() {
  bool stream = true;
  std::string last;
  while (!stop_) {
    if (stream) {
      stream = follow_stream();
      if (!stream)
        edge::log::info("edged has no event stream: watching modules by polling");
      else if (!stop_)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    poll_once(last);
    std::this_thread::sleep_for(kPollPeriod);
  }
}

}  // namespace agent
