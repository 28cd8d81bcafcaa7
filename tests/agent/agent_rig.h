// An edge agent in its container, driven by a local manifest, against edged's management API
// served in this test process over the real engine. Every container gets a per-test suffix;
// the rig removes what it created (also after a failed REQUIRE).
#pragma once
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/http/server.h"
#include "edged/management.h"
#include "tests/support/harness.h"

namespace agent_test {

using edge::http::Json;
inline const std::string kImage = "edge-test-busybox:1";

// A user module running `cmd` in the busybox test image (cached: pull policy never).
Json module(const std::string& status, const std::string& cmd, int order = 1,
            const std::string& policy = "always", Json env = Json::object(),
            const std::string& image = kImage);
// A whole deployment (`modulesContent`) with these user modules.
Json deployment(const Json& modules, int version = 1);

template <class F>
bool eventually(F f, double seconds = 30) {
  for (int i = 0; i < static_cast<int>(seconds * 20); ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The engine's own start/die events for containers whose name starts with `prefix`, recorded
// from construction on (re-attached with `since` so none is lost).
class EngineEvents {
 public:
  struct Event {
    std::string name, action;
    double time;  // unix seconds
    int exit_code;
  };
  explicit EngineEvents(std::string prefix);
  ~EngineEvents();
  std::vector<Event> events();
  size_t count(const std::string& action);

 private:
  std::string prefix_;
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  std::vector<Event> events_;
  std::thread thread_;
};

class AgentRig {
 public:
  // `env` adds to / overrides the agent's environment (timings, rollback deadline, …).
  explicit AgentRig(std::map<std::string, std::string> env = {});
  ~AgentRig();

  std::string name(const std::string& base) const { return base + suffix_; }  // unique name
  // This test's edged owner label value: other tests' agents on the engine never see its modules.
  std::string owner() const { return "agent-test-" + suffix_; }
  void write_manifest(const Json& whole_deployment);
  void write_text(const std::string& text);
  void start_agent();
  // docker stop: SIGTERM, then SIGKILL after `seconds`.
  bool stop_agent(int seconds = 10);
  // Starts the stopped agent container again.
  bool restart_agent();
  bool running(const std::string& container);
  bool exists(const std::string& container);
  Json inspect(const std::string& container);
  std::string agent_log();
  // The agent's deployment status file (code, description, version, rolledBack…).
  Json status();
  // Waits for the status to have this code and (optionally) version.
  bool wait_status(int code, int64_t version = -1, double seconds = 30);
  std::string storage() const { return dir_ / "storage/edgeAgent"; }
  edged::docker::Client& docker() { return docker_; }

 private:
  edge::test::TempDir dir_;
  std::string suffix_;
  std::string agent_, image_;
  std::map<std::string, std::string> env_;
  edged::docker::Client docker_;
  edged::Management mgmt_;
  edge::http::Server server_;
  std::thread thread_;
};

}  // namespace agent_test
