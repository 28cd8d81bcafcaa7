// Background tasks of the upload methods and their status for GetTaskStatus, as upstream's
// BackgroundTask: a task is Running from the moment it is accepted, then Completed, Failed
// ("Task <operation> failed because of error <message>") or Cancelled (agent shutdown); an
// unknown correlation id is Unknown. Bounded: a few run at once, the last 64 results are kept.
#pragma once
#include <atomic>
#include <deque>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace agent::upstream {

class Tasks {
 public:
  static constexpr size_t kMaxRunning = 4, kKeep = 64;
  // The task gets a flag that turns true when the agent stops; it should return soon then.
  using Body = std::function<edge::Status(const std::atomic<bool>& stopping)>;
  ~Tasks();
  // Starts `body` on its own thread; returns its status document ({"status","message",
  // "correlationId"}), or an error message when too many tasks run.
  std::expected<nlohmann::json, std::string> run(const std::string& operation, Body body);
  nlohmann::json status(const std::string& correlation_id) const;

 private:
  struct Entry {
    std::string operation, status = "Running", message;
  };
  nlohmann::json document(const std::string& id, const Entry& e) const;
  void reap();  // joins finished threads (mutex held)
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // ids, oldest first
  std::map<std::string, std::thread> threads_;
  std::deque<std::string> finished_;  // ids whose threads may be joined
  size_t running_ = 0;
  std::atomic<bool> stopping_{false};
};

// A random (version 4) GUID in upstream's "D" format.
std::string new_guid();

}  // namespace agent::upstream
