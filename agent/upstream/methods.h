// Direct methods on `$edgeAgent` with upstream's payloads and status codes: ping, RestartModule,
// GetModuleLogs, GetTaskStatus (names case-insensitive; unknown -> 400; bad payload -> 400;
// schema major version other than 1 -> 500; other failures -> 500 {"message"}).
#pragma once
#include <string>

#include "agent/upstream/hub_connection.h"

namespace agent::upstream {

constexpr size_t kMaxLogsPayload = 127000;  // a direct method answer is limited to 128 KB

class Methods {
 public:
  // `mgmt_socket`: edged's management socket (a client of its own: methods run on their thread).
  Methods(std::string mgmt_socket, std::string hub, std::string device);
  MethodResult handle(const std::string& name, const std::string& payload);

 private:
  MethodResult restart_module(const Json& payload);
  MethodResult module_logs(const Json& payload);
  MethodResult task_status(const Json& payload);
  edge::http::UnixClient mgmt_;
  std::string hub_, device_;
};

// Docker's log stream (8-byte frame headers) -> the frames' text, one entry per frame.
std::vector<std::pair<int, std::string>> split_log_frames(std::string_view raw);

}  // namespace agent::upstream
