// The agent's link to its `$edgeAgent` module twin: one thread keeps an MQTT session up
// (reconnecting with back-off, renewing the SAS token before it expires), GETs the twin at every
// connect, follows desired-property patches, sends reported-property diffs, and answers direct
// methods through a handler run on a worker thread. The main loop reads desired() and calls
// report(); both are thread-safe.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/upstream/mqtt_client.h"
#include "agent/upstream/sas.h"
#include "agent/upstream/settings.h"
#include "agent/upstream/twin.h"

namespace agent::upstream {

struct MethodResult {
  int status = 200;
  std::optional<Json> payload;  // none: an empty body
};
using MethodHandler =
    std::function<MethodResult(const std::string& name, const std::string& payload)>;

class HubConnection {
 public:
  HubConnection(Settings settings, std::shared_ptr<Signer> signer, std::string trust_bundle_pem,
                MethodHandler methods);
  ~HubConnection();
  HubConnection(const HubConnection&) = delete;

  void start();
  void stop();
  bool connected() const { return connected_; }
  // The latest desired properties (with "$version"); nullopt until the first twin GET answered.
  std::optional<Json> desired() const;
  // Blocks until the desired properties change after `version` or `timeout` passes.
  void wait_for_desired(long long version, std::chrono::milliseconds timeout);
  // The full reported state the agent wants; the connection sends the diff against what the hub
  // acknowledged last (nothing when equal) and retries after failures.
  void report(Json state);
  // The reported properties the hub has acknowledged (the cache diffs are made against).
  std::optional<Json> acknowledged() const;
  // Sends the last reported state now and waits up to `timeout` for the hub's acknowledgement
  // (used at shutdown).
  bool flush_report(std::chrono::milliseconds timeout);
  std::string last_error() const;

 private:
  void run();
  edge::Status session();
  void handle(MqttSession& s, const mqtt::Message& m);
  void send_pending(MqttSession& s);
  void method_worker();
  void wake();
  void sleep_interruptible(std::chrono::milliseconds d);
  std::string next_rid();

  Settings settings_;
  std::shared_ptr<Signer> signer_;
  std::string trust_pem_;
  MethodHandler methods_;
  int wake_fd_ = -1;
  std::thread thread_, method_thread_;
  std::atomic<bool> stop_{false}, connected_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  DesiredState desired_;
  std::optional<Json> wanted_, acked_;
  std::string get_rid_, report_rid_;
  Json report_snapshot_;
  std::chrono::steady_clock::time_point report_retry_at_{}, refresh_at_{};
  bool get_needed_ = false;
  std::deque<std::pair<std::string, std::string>> outbox_;               // topic, payload
  std::deque<std::tuple<std::string, std::string, std::string>> calls_;  // name, rid, payload
  std::string last_error_;
  unsigned long rid_counter_ = 0;
};

// "$iothub/twin/res/204/?$rid=7&$version=3" -> status 204, query "$rid=7&$version=3".
bool parse_response_topic(const std::string& topic, const std::string& prefix, int& status,
                          std::string& query);
std::string query_value(const std::string& query, const std::string& name);

}  // namespace agent::upstream
