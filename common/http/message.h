// HTTP/1.1 messages and their wire format over a stream socket.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace edge::http {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;  // names lower-cased

struct Limits {
  size_t max_head = 16 * 1024;
  size_t max_headers = 100;
  size_t max_body = 1024 * 1024;
  std::chrono::milliseconds read_timeout{5000};  // head and body, once a request has begun
};

struct PeerCred {
  pid_t pid = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

struct Request {
  std::string method;
  std::string target;  // as sent: path?query
  std::string path;    // raw (still percent-encoded)
  std::map<std::string, std::string> query;  // decoded
  Headers headers;
  std::string body;
  PeerCred peer;
  std::optional<Json> json;              // set by the router per upstream body rules
  std::map<std::string, std::string> params;  // decoded path parameters
  std::string api_version;

  const std::string* header(std::string_view name) const;
  const std::string* query_param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
  }
};

// Writes one chunk of a streamed body; returns false when the peer went away.
using ChunkSink = std::function<bool(std::string_view)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
  // When set, the body is produced by this callback as chunked transfer encoding.
  std::function<void(const ChunkSink&)> stream;
  // When set, called once the response has been written (e.g. to shut down after answering).
  std::function<void()> after_sent;

  static Response json(int status, const Json& body);
  static Response empty(int status);
  static Response error(int status, std::string_view message);
};

const char* reason_phrase(int status);

// A socket with a read buffer; parses heads, bodies and chunked encoding.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();
  int fd() const { return fd_; }
  void close();
  int release() {  // gives up ownership without closing
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

  // Waits until at least one byte is buffered; false on EOF, error or timeout.
  bool wait_readable(std::chrono::milliseconds timeout);
  // Reads up to the blank line; returns the head lines. Errors: Timeout, PayloadTooLarge,
  // InvalidParameter (malformed), Unavailable (peer closed).
  Result<std::vector<std::string>> read_head(const Limits& limits,
                                             std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_body(const Headers& headers, const Limits& limits,
                                std::chrono::steady_clock::time_point deadline,
                                bool until_close = false);
  bool write_all(std::string_view data);
  // Reads a body piece by piece (chunked, Content-Length, or until close) and hands each
  // piece to on_data; `idle` bounds the wait for every read, not the whole body. on_data
  // returning false stops reading (Error kind Unavailable "stopped by the reader").
  Status stream_body(const Headers& headers, std::chrono::milliseconds idle,
                     const std::function<bool(std::string_view)>& on_data);

 private:
  Result<size_t> fill(std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_line(size_t max, std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_exact(size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_;
  std::string buf_;
  size_t pos_ = 0;
};

Result<Headers> parse_header_lines(const std::vector<std::string>& lines, size_t first,
                                   const Limits& limits);
const std::string* find_header(const Headers& headers, std::string_view name);
std::string serialize_head(int status, const Response& response, bool keep_alive,
                           bool chunked);

}  // namespace edge::http
