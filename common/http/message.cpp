#include "common/http/message.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "common/text.h"

namespace edge::http {
namespace {
using edge::text::lower;
using edge::text::trim;
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(left.count());
}
}  // namespace

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && lower(name) == k) return &v;
  return nullptr;
}

const std::string* Request::header(std::string_view name) const {
  return find_header(headers, name);
}

Response Response::json(int status, const Json& body) {
  Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

Response Response::empty(int status) {
  Response r;
  r.status = status;
  r.content_type.clear();
  return r;
}

Response Response::error(int status, std::string_view message) {
  return json(status, Json{{"message", std::string(message)}});
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

Connection::~Connection() { close(); }

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<size_t> Connection::fill(Clock::time_point deadline) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return fail(ErrorKind::Unavailable, "poll failed");
    if (r == 0) return fail(ErrorKind::Timeout, "timed out reading from the peer");
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return fail(ErrorKind::Unavailable, "connection closed by the peer");
    buf_.append(tmp, static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }
}

bool Connection::wait_readable(std::chrono::milliseconds timeout) {
  if (pos_ < buf_.size()) return true;
  auto r = fill(Clock::now() + timeout);
  return r.has_value();
}

Result<std::string> Connection::read_line(size_t max, Clock::time_point deadline) {
  for (;;) {
    auto nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      if (nl - pos_ > max) return fail(ErrorKind::PayloadTooLarge, "header line too long");
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buf_.size() - pos_ > max) return fail(ErrorKind::PayloadTooLarge, "header line too long");
    EDGE_TRY(fill(deadline));
  }
}

Result<std::string> Connection::read_exact(size_t n, Clock::time_point deadline) {
  while (buf_.size() - pos_ < n) EDGE_TRY(fill(deadline));
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

Result<std::vector<std::string>> Connection::read_head(const Limits& limits,
                                                       Clock::time_point deadline) {
  std::vector<std::string> lines;
  size_t total = 0;
  for (;;) {
    auto line = EDGE_TRY(read_line(limits.max_head, deadline));
    if (line.empty()) {
      if (lines.empty()) continue;  // tolerate leading blank lines (RFC 9112 §2.2)
      return lines;
    }
    total += line.size() + 2;
    if (total > limits.max_head) return fail(ErrorKind::PayloadTooLarge, "request head too large");
    if (lines.size() > limits.max_headers)
      return fail(ErrorKind::PayloadTooLarge, "too many headers");
    lines.push_back(std::move(line));
  }
}

Result<std::string> Connection::read_body(const Headers& headers, const Limits& limits,
                                          Clock::time_point deadline, bool until_close) {
  const std::string* te = find_header(headers, "transfer-encoding");
  if (te && lower(trim(*te)) == "chunked") {
    std::string body;
    for (;;) {
      auto size_line = EDGE_TRY(read_line(1024, deadline));
      auto semi = size_line.find(';');
      auto hex = trim(std::string_view(size_line).substr(0, semi));
      size_t size = 0;
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
      if (ec != std::errc{} || p != hex.data() + hex.size() || hex.empty())
        return invalid("malformed chunk size");
      if (size == 0) {
        for (;;) {  // trailers
          auto t = EDGE_TRY(read_line(limits.max_head, deadline));
          if (t.empty()) break;
        }
        return body;
      }
      if (body.size() + size > limits.max_body)
        return fail(ErrorKind::PayloadTooLarge, "request body too large");
      body += EDGE_TRY(read_exact(size, deadline));
      auto crlf = EDGE_TRY(read_line(2, deadline));
      if (!crlf.empty()) return invalid("malformed chunk");
    }
  }
  if (te) return fail(ErrorKind::Unsupported, "unsupported transfer encoding");
  const std::string* cl = find_header(headers, "content-length");
  if (!cl) {
    if (!until_close) return std::string();
    std::string body;
    for (;;) {
      body.append(buf_, pos_, std::string::npos);
      pos_ = buf_.size();
      if (body.size() > limits.max_body) return fail(ErrorKind::PayloadTooLarge, "body too large");
      auto r = fill(deadline);
      if (!r) {
        if (r.error().kind == ErrorKind::Unavailable) return body;
        return fail(r.error());
      }
    }
  }
  auto v = trim(*cl);
  size_t length = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
  if (ec != std::errc{} || p != v.data() + v.size() || v.empty())
    return invalid("malformed Content-Length");
  if (length > limits.max_body) return fail(ErrorKind::PayloadTooLarge, "request body too large");
  return read_exact(length, deadline);
}

Status Connection::stream_body(const Headers& headers, std::chrono::milliseconds idle,
                               const std::function<bool(std::string_view)>& on_data) {
  auto deadline = [&] { return Clock::now() + idle; };
  auto deliver = [&](std::string_view piece) -> Status {
    if (!piece.empty() && !on_data(piece)) return fail(ErrorKind::Unavailable, "stopped by the reader");
    return {};
  };
  const std::string* te = find_header(headers, "transfer-encoding");
  if (te && lower(trim(*te)) == "chunked") {
    for (;;) {
      auto size_line = EDGE_TRY(read_line(1024, deadline()));
      auto hex = trim(std::string_view(size_line).substr(0, size_line.find(';')));
      size_t size = 0;
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), size, 16);
      if (ec != std::errc{} || p != hex.data() + hex.size() || hex.empty())
        return invalid("malformed chunk size");
      if (size == 0) {
        for (;;) {
          auto t = EDGE_TRY(read_line(16 * 1024, deadline()));
          if (t.empty()) return {};
        }
      }
      while (size > 0) {
        if (pos_ == buf_.size()) EDGE_TRY(fill(deadline()));
        size_t n = std::min(size, buf_.size() - pos_);
        std::string_view piece(buf_.data() + pos_, n);
        pos_ += n;
        size -= n;
        EDGE_TRY_VOID(deliver(piece));
      }
      auto crlf = EDGE_TRY(read_line(2, deadline()));
      if (!crlf.empty()) return invalid("malformed chunk");
    }
  }
  const std::string* cl = find_header(headers, "content-length");
  std::optional<size_t> left;
  if (cl) {
    size_t length = 0;
    auto v = trim(*cl);
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
    if (ec != std::errc{} || p != v.data() + v.size()) return invalid("malformed Content-Length");
    left = length;
  }
  for (;;) {
    if (left && *left == 0) return {};
    if (pos_ == buf_.size()) {
      auto r = fill(deadline());
      if (!r) {
        if (!left && r.error().kind == ErrorKind::Unavailable) return {};  // body ends at close
        return fail(r.error());
      }
    }
    size_t n = buf_.size() - pos_;
    if (left) n = std::min(n, *left);
    std::string_view piece(buf_.data() + pos_, n);
    pos_ += n;
    if (left) *left -= n;
    EDGE_TRY_VOID(deliver(piece));
  }
}

bool Connection::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Result<Headers> parse_header_lines(const std::vector<std::string>& lines, size_t first,
                                   const Limits& limits) {
  Headers headers;
  if (lines.size() - first > limits.max_headers)
    return fail(ErrorKind::PayloadTooLarge, "too many headers");
  for (size_t i = first; i < lines.size(); ++i) {
    const auto& line = lines[i];
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return invalid("malformed header line");
    std::string_view name(line.data(), colon);
    for (char c : name)
      if (c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x21)
        return invalid("malformed header name");
    headers.emplace_back(lower(name), std::string(trim(std::string_view(line).substr(colon + 1))));
  }
  return headers;
}

std::string serialize_head(int status, const Response& response, bool keep_alive, bool chunked) {
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  if (!response.content_type.empty()) head += "Content-Type: " + response.content_type + "\r\n";
  for (const auto& [k, v] : response.headers) head += k + ": " + v + "\r\n";
  if (chunked)
    head += "Transfer-Encoding: chunked\r\n";
  else
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (!keep_alive) head += "Connection: close\r\n";
  head += "\r\n";
  return head;
}

}  // namespace edge::http
