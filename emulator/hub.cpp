// Hub: shared helpers, construction, persistence (state.json), entry lookup.
#include "emulator/hub.h"

#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>

#include "common/base64.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/log.h"
#include "emulator/hub_internal.h"

namespace emulator {

using edge::ErrorKind;
using namespace detail;

edge::Error hub_error(ErrorKind kind, const std::string& name, const std::string& text) {
  return edge::Error{kind, name + ";" + text};
}

namespace detail {

int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() %
            1000000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us));
  return out;
}

std::string new_key() {
  return edge::base64::encode(edge::crypto::random_bytes(32).value_or(std::string(32, 'k')));
}

std::string new_generation_id() {
  auto bytes = edge::crypto::random_bytes(8).value_or(std::string(8, '\1'));
  uint64_t n = 0;
  for (unsigned char c : bytes) n = (n << 8) | c;
  return "63" + std::to_string(100000000000000000ULL + n % 800000000000000000ULL).substr(0, 16);
}

std::string new_etag() {
  static std::atomic<uint64_t> counter{0};
  auto r = edge::crypto::random_bytes(2).value_or("ee");
  uint64_t n = (++counter << 16) | (static_cast<unsigned char>(r[0]) << 8) |
               static_cast<unsigned char>(r[1]);
  return edge::base64::encode(std::to_string(n));
}

bool etag_matches(std::string if_match, const std::string& etag) {
  if (if_match.size() >= 2 && if_match.front() == '"' && if_match.back() == '"')
    if_match = if_match.substr(1, if_match.size() - 2);
  return if_match.empty() || if_match == "*" || if_match == etag;
}

std::string client_id_of(const std::string& dev, const std::string& mod) {
  return mod.empty() ? dev : dev + "/" + mod;
}

Json new_twin_state() {
  return Json{{"tags", Json::object()},
              {"desired", Json::object()},
              {"reported", Json::object()},
              {"dv", 1},
              {"rv", 1},
              {"version", 1},
              {"etag", new_etag()}};
}

void merge_patch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) target = Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null())
      target.erase(it.key());
    else
      merge_patch(target[it.key()], it.value());
  }
}

Json diff_patch(const Json& from, const Json& to) {
  Json patch = Json::object();
  for (auto it = from.begin(); from.is_object() && it != from.end(); ++it)
    if (!to.contains(it.key())) patch[it.key()] = nullptr;
  for (auto it = to.begin(); it != to.end(); ++it) {
    auto old = from.is_object() ? from.find(it.key()) : from.end();
    if (old == from.end() || !old->is_object() || !it->is_object()) {
      if (old == from.end() || *old != *it) patch[it.key()] = *it;
      continue;
    }
    Json sub = diff_patch(*old, *it);
    if (!sub.empty()) patch[it.key()] = std::move(sub);
  }
  return patch;
}

size_t properties_size(const Json& props) { return props.dump().size(); }

Json strip_metadata(const Json& props) {
  Json out = Json::object();
  if (!props.is_object()) return out;
  for (auto it = props.begin(); it != props.end(); ++it)
    if (!it.key().starts_with("$")) out[it.key()] = it.value();
  return out;
}

}  // namespace detail

Hub::Hub(HubConfig config) : config_(std::move(config)) {
  state_ = Json{
      {"devices", Json::object()},
      {"enrollments", Json::object()},
      {"groups", Json::object()},
      {"registrations", Json::object()},
      {"policies",
       {{"iothubowner", new_key()}, {"service", new_key()}, {"registryReadWrite", new_key()}}}};
}

edge::Status Hub::load() {
  if (config_.state_dir.empty()) return {};
  std::string path = config_.state_dir + "/state.json";
  if (!edge::fs::exists(path)) {
    std::lock_guard lock(mu_);
    save();
    return {};
  }
  auto text = EDGE_TRY(edge::fs::read_file(path, 256 * 1024 * 1024));
  Json loaded = Json::parse(text, nullptr, false);
  if (loaded.is_discarded() || !loaded.is_object())
    return edge::invalid(path + " is not valid JSON");
  std::lock_guard lock(mu_);
  for (auto it = loaded.begin(); it != loaded.end(); ++it) state_[it.key()] = it.value();
  load_telemetry_locked();
  return {};
}

// Telemetry is appended to telemetry.jsonl (one message per line) and the newest
// `telemetry_kept` are read back at start; the file is compacted when it grows to twice that.
void Hub::load_telemetry_locked() {
  std::ifstream in(config_.state_dir + "/telemetry.jsonl");
  for (std::string line; std::getline(in, line);) {
    Json m = Json::parse(line, nullptr, false);
    if (!m.is_object()) continue;
    telemetry_.push_back(std::move(m));
    telemetry_lines_++;
    while (telemetry_.size() > config_.telemetry_kept) telemetry_.pop_front();
  }
}

void Hub::append_telemetry_locked(const Json& message) {
  if (config_.state_dir.empty()) return;
  std::string path = config_.state_dir + "/telemetry.jsonl";
  if (++telemetry_lines_ > 2 * config_.telemetry_kept) {  // compact: keep what is in memory
    std::string all;
    for (const auto& m : telemetry_) all += m.dump() + "\n";
    (void)edge::fs::write_atomic(path, all, 0600);
    telemetry_lines_ = telemetry_.size();
    return;
  }
  std::ofstream(path, std::ios::app) << message.dump() << "\n";
}

void Hub::save() {
  if (config_.state_dir.empty()) return;
  auto st = edge::fs::write_atomic(config_.state_dir + "/state.json", state_.dump(1), 0600);
  if (!st) edge::log::error("emulator: could not save state: " + st.error().message);
}

Json* Hub::device_entry(const std::string& dev) {
  auto& devices = state_["devices"];
  auto it = devices.find(dev);
  return it == devices.end() ? nullptr : &*it;
}
const Json* Hub::device_entry(const std::string& dev) const {
  const auto& devices = state_["devices"];
  auto it = devices.find(dev);
  return it == devices.end() ? nullptr : &*it;
}
Json* Hub::identity_entry(const std::string& dev, const std::string& mod) {
  Json* d = device_entry(dev);
  if (!d || mod.empty()) return d;
  auto& modules = (*d)["modules"];
  auto it = modules.find(mod);
  return it == modules.end() ? nullptr : &*it;
}
const Json* Hub::identity_entry(const std::string& dev, const std::string& mod) const {
  const Json* d = device_entry(dev);
  if (!d || mod.empty()) return d;
  const auto& modules = (*d)["modules"];
  auto it = modules.find(mod);
  return it == modules.end() ? nullptr : &*it;
}

}  // namespace emulator
