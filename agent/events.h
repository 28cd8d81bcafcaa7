// Notices module container changes within a second: follows edged's GET /events stream (our
// addition to the management API) and, against an edged without it, polls GET /modules every
// half second instead. Each change calls `on_change` from the watcher's own thread.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace agent {

struct ModuleEvent {
  std::string name;
  std::string action;  // the engine's action (start, die, …), or "changed" when polling
  int exit_code = 0;
};

class ModuleEvents {
 public:
  ModuleEvents(std::string management_socket, std::string api_version,
               std::function<void(const ModuleEvent&)> on_change);
  ~ModuleEvents();  // stops the watcher
  ModuleEvents(const ModuleEvents&) = delete;
  bool streaming() const { return streaming_; }  // false while polling

 private:
  void run();
  bool follow_stream();  // false: the route is not there
  void poll_once(std::string& last);

  std::string socket_, api_version_;
  std::function<void(const ModuleEvent&)> on_change_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> streaming_{false};
  std::thread thread_;
};

}  // namespace agent
