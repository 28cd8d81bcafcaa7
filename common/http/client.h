// HTTP/1.1 client over a Unix socket for daemon-to-daemon calls. Keeps one keep-alive
// connection and reconnects once when the server closed it. Not thread-safe: one per thread.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/http/message.h"

namespace edge::http {

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
  Result<Json> json() const;
  // {"message": ...} of an error response, or the raw body.
  std::string message() const;
};

class UnixClient {
 public:
  explicit UnixClient(std::string socket_path,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(30000));
  ~UnixClient();
  UnixClient(UnixClient&&) noexcept;

  Result<ClientResponse> request(const std::string& method, const std::string& target,
                                 const std::optional<Json>& body = std::nullopt,
                                 const Headers& extra_headers = {});
  Result<ClientResponse> request_raw(const std::string& method, const std::string& target,
                                     const std::string& body, const std::string& content_type,
                                     const Headers& extra_headers = {});
  // Like request_raw, but a 2xx body is handed to on_data as it arrives (logs, events, pull
  // progress) instead of being collected; `idle` bounds each wait for data. Other statuses
  // are collected into the returned body as usual.
  Result<ClientResponse> stream(const std::string& method, const std::string& target,
                                const std::string& body, const std::string& content_type,
                                const Headers& extra_headers,
                                const std::function<bool(std::string_view)>& on_data,
                                std::chrono::milliseconds idle);
  const std::string& socket_path() const { return path_; }

 private:
  Result<ClientResponse> exchange(const std::string& wire,
                                  const std::function<bool(std::string_view)>* on_data = nullptr,
                                  std::chrono::milliseconds idle = {});
  static std::string wire_format(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type,
                                 const Headers& extra_headers);
  Status connect();

  std::string path_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Connection> conn_;
};

// Opens a connected Unix stream socket; -1 with errno set on failure.
int connect_unix(const std::string& path);

}  // namespace edge::http
