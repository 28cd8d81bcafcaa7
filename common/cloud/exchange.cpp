#include "common/cloud/exchange.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/base64.h"
#include "common/text.h"
#include "common/uri.h"

namespace edge::cloud {
namespace {
using edge::text::lower;
using edge::text::trim;
using Clock = std::chrono::steady_clock;

Result<uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return invalid("invalid port \"" + std::string(text) + "\"");
  unsigned v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return invalid("invalid port \"" + std::string(text) + "\"");
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return invalid("invalid port \"" + std::string(text) + "\"");
  return static_cast<uint16_t>(v);
}

// host[:port] or [v6][:port]
Status split_host_port(std::string_view authority, std::string& host, uint16_t& port) {
  if (authority.empty()) return invalid("missing host");
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unterminated IPv6 address");
    host = std::string(authority.substr(1, close - 1));
    auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalid("garbage after IPv6 address");
      port = EDGE_TRY(parse_port(rest.substr(1)));
    }
  } else {
    auto colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      port = EDGE_TRY(parse_port(authority.substr(colon + 1)));
      authority = authority.substr(0, colon);
    }
    host = std::string(authority);
  }
  if (host.empty()) return invalid("missing host");
  for (char c : host)
    if (c <= ' ' || c == '/' || c == '@' || c == '?' || c == '#' ||
        static_cast<unsigned char>(c) >= 0x7f)
      return invalid("invalid character in host \"" + host + "\"");
  return {};
}

std::string host_header(const std::string& host, uint16_t port) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 443 ? h : h + ":" + std::to_string(port);
}
std::string authority(const std::string& host, uint16_t port) {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int remaining_ms(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

Result<int> connect_tcp(const std::string& host, uint16_t port, Clock::time_point deadline,
                        const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0)
    return fail(ErrorKind::Unavailable,
                "could not resolve " + what + " " + host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno == EINPROGRESS) {
      if (!wait_fd(fd, POLLOUT, deadline)) {
        ::close(fd);
        return fail(ErrorKind::Timeout,
                    "timed out connecting to " + what + " " + authority(host, port));
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) return fd;
      last = std::strerror(err);
    } else {
      last = std::strerror(errno);
    }
    ::close(fd);
  }
  return fail(ErrorKind::Unavailable,
              "could not connect to " + what + " " + authority(host, port) + ": " + last);
}

// Reads from a plain socket until "\r\n\r\n"; returns the head (and anything after it in *extra).
Result<std::string> read_plain_head(int fd, Clock::time_point deadline, std::string& extra,
                                    const std::string& what) {
  std::string buf;
  char chunk[2048];
  for (;;) {
    auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      extra = buf.substr(end + 4);
      return buf.substr(0, end);
    }
    if (buf.size() > kMaxResponseHead)
      return fail(ErrorKind::PayloadTooLarge, what + " sent an oversized response head");
    if (!wait_fd(fd, POLLIN, deadline))
      return fail(ErrorKind::Timeout, "timed out waiting for " + what);
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buf.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    // A close right after a complete status line (HTTP/1.0 proxies) still names the status.
    if (!buf.empty()) return buf;
    return fail(ErrorKind::Unavailable, what + " closed the connection without answering");
  }
}

Status send_plain(int fd, std::string_view data, Clock::time_point deadline,
                  const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_fd(fd, POLLOUT, deadline))
        return fail(ErrorKind::Timeout, "timed out sending to " + what);
      continue;
    }
    return fail(ErrorKind::Unavailable, "could not send to " + what + ": " + std::strerror(errno));
  }
  return {};
}

// "HTTP/1.x 407 Reason" -> 407 and "Reason".
Result<std::pair<int, std::string>> parse_status_line(std::string_view line) {
  if (!line.starts_with("HTTP/1.")) return invalid("not an HTTP response");
  auto sp = line.find(' ');
  if (sp == std::string_view::npos || line.size() < sp + 4) return invalid("malformed status line");
  auto code = line.substr(sp + 1, 3);
  int status = 0;
  for (char c : code) {
    if (c < '0' || c > '9') return invalid("malformed status code");
    status = status * 10 + (c - '0');
  }
  std::string reason(trim(line.size() > sp + 4 ? line.substr(sp + 5) : std::string_view()));
  return std::pair{status, reason};
}

Status proxy_connect(int fd, const Proxy& proxy, const Url& url, Clock::time_point deadline) {
  std::string what = "proxy " + proxy.display();
  std::string target = authority(url.host, url.port);
  std::string req = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n";
  if (proxy.user) {
    std::string creds =
        *proxy.user + ":" + std::string(proxy.password ? proxy.password->view() : "");
    Secret encoded(base64::encode(creds));
    ::explicit_bzero(creds.data(), creds.size());
    req += "Proxy-Authorization: Basic " + std::string(encoded.view()) + "\r\n";
  }
  req += "\r\n";
  Secret wire(std::move(req));
  EDGE_TRY_VOID(send_plain(fd, wire.view(), deadline, what));
  std::string extra;
  auto head = EDGE_TRY(read_plain_head(fd, deadline, extra, what));
  auto eol = head.find("\r\n");
  auto status = parse_status_line(std::string_view(head).substr(0, eol));
  if (!status) return fail(ErrorKind::Unavailable, what + " sent a malformed answer to CONNECT");
  if (status->first < 200 || status->first > 299)
    return fail(ErrorKind::Unavailable, what + " refused CONNECT " + target + ": " +
                                            std::to_string(status->first) + " " + status->second);
  if (!extra.empty())
    return fail(ErrorKind::Unavailable, what + " sent data after its CONNECT answer");
  return {};
}

// A read buffer over a stream.
struct Reader {
  ByteStream& stream;
  std::string buf;
  // Appends what is available; false at EOF.
  Result<bool> fill() {
    char chunk[16384];
    auto n = EDGE_TRY(stream.read(chunk, sizeof chunk));
    if (n == 0) return false;
    buf.append(chunk, n);
    return true;
  }
};

Result<Response> read_response(Reader& s, size_t max_response, const std::string& what,
                               bool head_request) {
  size_t end;
  while ((end = s.buf.find("\r\n\r\n")) == std::string::npos) {
    if (s.buf.size() > kMaxResponseHead)
      return fail(ErrorKind::PayloadTooLarge, what + " sent an oversized response head");
    if (!EDGE_TRY(s.fill()))
      return fail(ErrorKind::Unavailable, what + " closed the connection before answering");
  }
  std::string head = s.buf.substr(0, end);
  s.buf.erase(0, end + 4);
  Response response;
  size_t pos = head.find("\r\n");
  auto status = parse_status_line(std::string_view(head).substr(0, pos));
  if (!status) return invalid(what + " sent a malformed response: " + status.error().message);
  response.status = status->first;
  while (pos != std::string::npos) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = std::string_view(head).substr(
        pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    pos = next;
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return invalid(what + " sent a malformed header line");
    response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                  std::string(trim(line.substr(colon + 1))));
    if (response.headers.size() > 200) return invalid(what + " sent too many headers");
  }
  if (head_request || response.status == 204 || response.status == 304 ||
      response.status / 100 == 1)
    return response;

  auto too_large = [&] {
    return fail(ErrorKind::PayloadTooLarge,
                what + " sent a response larger than " + std::to_string(max_response) + " bytes");
  };
  const std::string* te = response.header("transfer-encoding");
  const std::string* cl = response.header("content-length");
  if (te && lower(*te).find("chunked") != std::string::npos) {
    for (;;) {
      size_t eol;
      while ((eol = s.buf.find("\r\n")) == std::string::npos) {
        if (s.buf.size() > 1024) return invalid(what + " sent a malformed chunk size");
        if (!EDGE_TRY(s.fill())) return fail(ErrorKind::Unavailable, what + " closed mid-body");
      }
      std::string size_text = s.buf.substr(0, eol);
      auto semi = size_text.find(';');
      if (semi != std::string::npos) size_text.resize(semi);
      size_text = std::string(trim(size_text));
      if (size_text.empty() || size_text.size() > 8 ||
          size_text.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        return invalid(what + " sent a malformed chunk size");
      size_t size = std::stoul(size_text, nullptr, 16);
      s.buf.erase(0, eol + 2);
      if (size == 0) break;  // trailers ignored
      if (response.body.size() + size > max_response) return too_large();
      while (s.buf.size() < size + 2)
        if (!EDGE_TRY(s.fill())) return fail(ErrorKind::Unavailable, what + " closed mid-body");
      response.body.append(s.buf, 0, size);
      s.buf.erase(0, size + 2);
    }
  } else if (cl) {
    std::string text(trim(*cl));
    if (text.empty() || text.size() > 15 ||
        text.find_first_not_of("0123456789") != std::string::npos)
      return invalid(what + " sent a malformed Content-Length");
    size_t length = std::stoull(text);
    if (length > max_response) return too_large();
    while (s.buf.size() < length)
      if (!EDGE_TRY(s.fill())) return fail(ErrorKind::Unavailable, what + " closed mid-body");
    response.body = s.buf.substr(0, length);
  } else {
    response.body = std::move(s.buf);
    for (;;) {
      if (response.body.size() > max_response) return too_large();
      s.buf.clear();
      if (!EDGE_TRY(s.fill())) break;
      response.body += s.buf;
    }
  }
  return response;
}

}  // namespace

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return true;  // let the following I/O report the error
  }
}

const std::string* Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

Result<Url> parse_https_url(std::string_view text) {
  std::string l = lower(text.substr(0, 8));
  if (l != "https://") return invalid("\"" + std::string(text) + "\" is not an https:// URL");
  text.remove_prefix(8);
  auto slash = text.find_first_of("/?#");
  auto auth = text.substr(0, slash);
  if (auth.find('@') != std::string_view::npos)
    return invalid("credentials in the URL are not supported");
  Url url;
  EDGE_TRY_VOID(split_host_port(auth, url.host, url.port));
  if (slash != std::string_view::npos) {
    auto rest = text.substr(slash);
    auto hash = rest.find('#');
    rest = rest.substr(0, hash);
    url.target = rest.starts_with("/") ? std::string(rest) : "/" + std::string(rest);
  }
  for (char c : url.target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return invalid("invalid character in URL path");
  return url;
}

Result<Proxy> parse_proxy(std::string_view text) {
  std::string_view t = trim(text);
  std::string l = lower(t.substr(0, 8));
  if (l.starts_with("http://"))
    t.remove_prefix(7);
  else if (l.starts_with("https://"))
    t.remove_prefix(8);
  else if (t.find("://") != std::string_view::npos)
    return invalid("unsupported proxy scheme in \"" + std::string(t.substr(0, t.find("://"))) +
                   "\"");
  auto slash = t.find('/');
  if (slash != std::string_view::npos) {
    if (t.substr(slash) != "/") return invalid("a proxy URL has no path");
    t = t.substr(0, slash);
  }
  Proxy proxy;
  auto at = t.rfind('@');
  if (at != std::string_view::npos) {
    auto userinfo = t.substr(0, at);
    t = t.substr(at + 1);
    auto colon = userinfo.find(':');
    auto user = uri::percent_decode(userinfo.substr(0, colon));
    if (!user || user->empty()) return invalid("malformed proxy user name");
    proxy.user = *user;
    if (colon != std::string_view::npos) {
      auto pass = uri::percent_decode(userinfo.substr(colon + 1));
      if (!pass) return invalid("malformed proxy password");
      proxy.password = Secret(std::move(*pass));
    }
  }
  proxy.port = 8080;
  if (auto s = split_host_port(t, proxy.host, proxy.port); !s)
    return invalid("malformed proxy address: " + s.error().message);
  return proxy;
}

bool no_proxy_matches(std::string_view no_proxy, std::string_view host) {
  std::string h = lower(host);
  size_t start = 0;
  while (start <= no_proxy.size()) {
    size_t comma = no_proxy.find_first_of(", ", start);
    std::string entry = lower(trim(no_proxy.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    start = comma == std::string_view::npos ? no_proxy.size() + 1 : comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    // Strip a port ("host:443") unless it is a bare IPv6 address.
    if (auto colon = entry.rfind(':'); colon != std::string::npos && entry.find(':') == colon)
      entry.resize(colon);
    if (entry.starts_with("*.")) entry.erase(0, 1);
    if (entry.starts_with(".")) {
      if (h.ends_with(entry) || h == entry.substr(1)) return true;
    } else if (h == entry || (h.size() > entry.size() && h.ends_with("." + entry))) {
      return true;
    }
  }
  return false;
}

Result<std::optional<Proxy>> proxy_from_env(std::string_view host) {
  const char* value = std::getenv("https_proxy");
  if (!value || !*value) value = std::getenv("HTTPS_PROXY");
  if (!value || !*value) return std::optional<Proxy>();
  for (const char* var : {"no_proxy", "NO_PROXY"}) {
    const char* np = std::getenv(var);
    if (np && *np) {
      if (no_proxy_matches(np, host)) return std::optional<Proxy>();
      break;
    }
  }
  auto proxy = parse_proxy(value);
  if (!proxy) return invalid("https_proxy: " + proxy.error().message);
  return std::optional<Proxy>(std::move(*proxy));
}

Result<Response> exchange(ByteStream& stream, const std::string& method, const Url& url,
                          const HeaderList& headers, const std::string& body, size_t max_response,
                          const std::string& what) {
  std::string wire = method + " " + url.target +
                     " HTTP/1.1\r\nHost: " + host_header(url.host, url.port) +
                     "\r\nConnection: close\r\n";
  bool has_length = false;
  for (const auto& [k, v] : headers) {
    if (k.find_first_of("\r\n:") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos)
      return invalid("invalid header " + k);
    if (lower(k) == "content-length") has_length = true;
    wire += k + ": " + v + "\r\n";
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH"))
    wire += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  wire += "\r\n";
  wire += body;
  Secret sent(std::move(wire));  // may carry a SAS token
  EDGE_TRY_VOID(stream.write(sent.view()));
  Reader reader{stream, {}};
  return read_response(reader, max_response, what, method == "HEAD");
}

Result<Response> request_over(const TlsConnector& tls, const std::string& method,
                              const std::string& url_text, const HeaderList& headers,
                              const std::string& body, const ExchangeOptions& options) {
  auto deadline = Clock::now() + options.timeout;
  auto url = EDGE_TRY(parse_https_url(url_text));
  std::optional<Proxy> proxy;
  if (options.proxy)
    proxy = *options.proxy;
  else
    proxy = EDGE_TRY(proxy_from_env(url.host));
  Fd sock;
  sock.fd = EDGE_TRY(open_tunnel(url.host, url.port, proxy, deadline));
  auto stream = EDGE_TRY(tls(sock.fd, url, deadline));
  return exchange(*stream, method, url, headers, body, options.max_response,
                  authority(url.host, url.port));
}

Result<int> open_tunnel(const std::string& host, uint16_t port, const std::optional<Proxy>& proxy,
                        Clock::time_point deadline) {
  Fd sock;
  if (proxy) {
    sock.fd = EDGE_TRY(connect_tcp(proxy->host, proxy->port, deadline, "proxy"));
    EDGE_TRY_VOID(proxy_connect(sock.fd, *proxy, Url{host, port, "/"}, deadline));
  } else {
    sock.fd = EDGE_TRY(connect_tcp(host, port, deadline, "server"));
  }
  return std::exchange(sock.fd, -1);
}

}  // namespace edge::cloud
