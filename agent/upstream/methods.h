// Direct methods on `$edgeAgent` with upstream's payloads and status codes: ping, RestartModule,
// GetModuleLogs (text / json, none / gzip), UploadModuleLogs and UploadSupportBundle (background
// tasks uploading to the blob container of a SAS URL), GetTaskStatus (names case-insensitive;
// unknown -> 400; bad payload -> 400; schema major version other than 1 -> 500; other failures
// -> 500 {"message"}).
#pragma once
#include <atomic>
#include <expected>
#include <string>

#include "agent/upstream/blob.h"
#include "agent/upstream/hub_connection.h"
#include "agent/upstream/tasks.h"

namespace agent::upstream {

constexpr size_t kMaxLogsPayload = 127000;  // a direct method answer is limited to 128 KB

struct MethodError {
  int status;
  std::string message;
};

// A logs request: the modules it selects (each with its item's filter) and the output form.
struct LogsRequest {
  bool json = false, gzip = false;
  std::vector<std::pair<std::string, Json>> modules;
};
// One module's filtered log lines: text frames (contentType text) or upstream's log messages
// {iothub, device, id, stream, loglevel, text, timestamp} (contentType json).
struct ModuleLogs {
  std::vector<std::string> text;
  Json messages = Json::array();
  std::string joined(bool json_lines) const;
};

class Methods {
 public:
  // `mgmt_socket`: edged's management socket (a client of its own: methods run on their thread).
  // `trust_pem`: roots trusted for uploads besides the system ones (the workload trust bundle);
  // `gateway`: replaces `$upstream` in SAS URLs (nested edge).
  Methods(std::string mgmt_socket, std::string hub, std::string device, std::string trust_pem = "",
          std::string gateway = "");
  MethodResult handle(const std::string& name, const std::string& payload);

 private:
  MethodResult restart_module(const Json& payload);
  MethodResult module_logs(const Json& payload);
  MethodResult upload_logs(const Json& payload);
  MethodResult upload_support_bundle(const Json& payload);
  MethodResult task_status(const Json& payload);
  std::expected<LogsRequest, MethodError> parse_logs_request(const Json& payload,
                                                             edge::http::UnixClient& mgmt);
  std::expected<ModuleLogs, MethodError> fetch_logs(edge::http::UnixClient& mgmt,
                                                    const std::string& name, const Json& filter,
                                                    bool json_lines);
  edge::Status upload_module(const BlobContainer& container, const LogsRequest& request,
                             const std::string& name, const Json& filter,
                             const std::atomic<bool>& stopping);
  edge::http::UnixClient mgmt_;
  std::string hub_, device_, trust_pem_, gateway_;
  Tasks tasks_;  // last member: its threads are joined before the rest goes away
};

// Docker's log stream (8-byte frame headers) -> the frames' text, one entry per frame.
std::vector<std::pair<int, std::string>> split_log_frames(std::string_view raw);

}  // namespace agent::upstream
