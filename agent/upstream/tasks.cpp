#include "agent/upstream/tasks.h"

#include <cstdio>

#include "common/log.h"
#include "common/random.h"

namespace agent::upstream {

std::string new_guid() {
  unsigned char b[16];
  if (!edge::fill_random(b, sizeof b))
    for (auto& c : b) c = static_cast<unsigned char>(std::rand());
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

Tasks::~Tasks() {
  stopping_ = true;
  std::map<std::string, std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(threads_);
  }
  for (auto& [id, t] : threads) t.join();
}

nlohmann::json Tasks::document(const std::string& id, const Entry& e) const {
  return {{"status", e.status}, {"message", e.message}, {"correlationId", id}};
}

void Tasks::reap() {
  while (!finished_.empty()) {
    auto it = threads_.find(finished_.front());
    finished_.pop_front();
    if (it == threads_.end()) continue;
    it->second.join();  // it has returned (or is returning) from its body
    threads_.erase(it);
  }
}

std::expected<nlohmann::json, std::string> Tasks::run(const std::string& operation, Body body) {
  std::lock_guard lock(mutex_);
  reap();
  if (running_ >= kMaxRunning)
    return std::unexpected("Too many tasks are running (" + std::to_string(kMaxRunning) +
                           "); try again when one has finished");
  std::string id = new_guid();
  entries_[id] = Entry{operation, "Running", ""};
  order_.push_back(id);
  while (order_.size() > kKeep) {
    auto oldest = entries_.find(order_.front());
    if (oldest != entries_.end() && oldest->second.status == "Running") break;
    entries_.erase(order_.front());
    order_.pop_front();
  }
  ++running_;
  threads_[id] = std::thread([this, id, operation, body = std::move(body)] {
    auto r = body(stopping_);
    std::lock_guard done(mutex_);
    Entry& e = entries_[id];
    if (stopping_ && !r) {
      e.status = "Cancelled";
    } else if (!r) {
      e.status = "Failed";
      e.message = "Task " + operation + " failed because of error " + r.error().message;
      edge::log::warn(e.message);
    } else {
      e.status = "Completed";
      edge::log::info("Task " + operation + " " + id + " completed");
    }
    --running_;
    finished_.push_back(id);
  });
  return document(id, entries_[id]);
}

nlohmann::json Tasks::status(const std::string& correlation_id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(correlation_id);
  if (it == entries_.end()) return document(correlation_id, Entry{"", "Unknown", ""});
  return document(it->first, it->second);
}

}  // namespace agent::upstream
