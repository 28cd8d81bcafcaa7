#include "cli/check/util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/system.h"
#include "common/base64.h"
#include "common/cloud/https_client.h"
#include "common/config.h"

namespace edge::cli::check {

std::string strip_scheme(const std::string& uri) {
  for (const char* scheme : {"file://", "unix://"})
    if (uri.starts_with(scheme)) return uri.substr(std::strlen(scheme));
  return uri;
}

const toml::table* toml_table(const toml::table& t, const std::string& dotted) {
  const toml::node* n = t.at_path(dotted).node();
  return n ? n->as_table() : nullptr;
}

std::optional<std::string> toml_string(const toml::table& t, const std::string& dotted) {
  if (auto v = t.at_path(dotted).value<std::string>()) return *v;
  return std::nullopt;
}

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  if (text.size() > config::kMaxConfigFileSize * 4) return std::nullopt;
  return text;
}

Outcome load_daemon_config(Context& ctx, const std::string& daemon, const std::string& file,
                           const std::string& dir, const std::vector<std::string>& required,
                           std::optional<toml::table>& out) {
  const std::string path = ctx.path(file);
  if (::access(path.c_str(), R_OK) != 0 && errno == EACCES)
    return Outcome::fatal({"Could not open file. You might need to run this command as root.",
                           "error in file " + path, "Permission denied (os error 13)"});
  const std::string message =
      ctx.options.verbose
          ? daemon + "'s configuration is not well-formed.\nNote: In case of syntax errors, the "
                     "error may not be exactly at the reported line number and position."
          : daemon + "'s configuration file is not well-formed.";
  auto table = config::load({path, ctx.path(dir)});
  if (!table) {
    if (table.error().message.find("ermission denied") != std::string::npos)
      return Outcome::fatal({"Could not open file. You might need to run this command as root.",
                             table.error().message});
    return Outcome::failed({message, table.error().message});
  }
  for (const auto& key : required)
    if (!table->at_path(key))
      return Outcome::failed({message, "missing field `" + key + "`"});
  out = std::move(*table);
  return Outcome::ok();
}

namespace {
long long asn1_to_epoch(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<long long>(timegm(&tm));
}
}  // namespace

Result<Validity> pem_validity(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                 BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr),
                                                   X509_free);
  if (!cert) return invalid("could not parse the certificate as a valid .pem");
  return Validity{asn1_to_epoch(X509_get0_notBefore(cert.get())),
                  asn1_to_epoch(X509_get0_notAfter(cert.get()))};
}

std::string utc_text(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

static std::string rfc3339(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Outcome validity_outcome(const Validity& v, const std::string& name, const std::string& id,
                         long long now) {
  const std::string who = name + " '" + id + "'";
  if (v.not_before > now)
    return Outcome::failed({who + " has not-before time " + utc_text(v.not_before) +
                            " which is in the future"});
  if (v.not_after < now) return Outcome::failed({who + " expired at " + utc_text(v.not_after)});
  if (v.not_after < now + 7 * 86400)
    return Outcome::warning({who + " will expire soon (" + utc_text(v.not_after) + ", in " +
                             std::to_string((v.not_after - now) / 86400) + " days)"});
  return Outcome::ok();
}

Json validity_json(const Validity& v, const std::string& name, const std::string& id) {
  return Json{{"cert_name", name},
              {"cert_id", id},
              {"not_after", rfc3339(v.not_after)},
              {"not_before", rfc3339(v.not_before)}};
}

bool is_rfc1035_valid(const std::string& hostname) {
  if (hostname.empty() || hostname.size() > 255) return false;
  size_t start = 0;
  while (true) {
    size_t dot = hostname.find('.', start);
    std::string label = hostname.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63) return false;
    if (!std::isalpha(static_cast<unsigned char>(label.front()))) return false;
    if (!std::isalnum(static_cast<unsigned char>(label.back()))) return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool is_ip_address(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

std::string machine_hostname() {
  if (const char* v = std::getenv("EDGE_CLI_HOSTNAME"); v && *v) return v;
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string docker_binary() {
  const char* v = std::getenv("EDGE_CLI_DOCKER");
  return v && *v ? v : "docker";
}

Result<std::string> docker(const std::string& host, const std::vector<std::string>& args,
                           std::string* stderr_out) {
  std::vector<std::string> argv{docker_binary(), "-H", host};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out, err;
  int code = run_captured(argv, &out, &err);
  if (stderr_out) *stderr_out = err;
  if (code == 127 || code < 0)
    return internal("could not run docker: " + err);
  if (code != 0)
    return fail(ErrorKind::Unavailable,
                 "docker returned exit status: " + std::to_string(code) + ", stderr = " + err);
  return out;
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects with a deadline; an error text on failure.
std::optional<std::string> connect_tcp(Fd& sock, const std::string& host, uint16_t port,
                                       std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return "could not resolve " + host + ": " + gai_strerror(rc);
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    Fd s;
    s.fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (s.fd < 0) continue;
    int rc = ::connect(s.fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s.fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) return "connection timed out";
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc == 0) {
      int flags = ::fcntl(s.fd, F_GETFL);
      ::fcntl(s.fd, F_SETFL, flags & ~O_NONBLOCK);
      timeval tv{static_cast<time_t>(timeout.count() / 1000),
                 static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
      ::setsockopt(s.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      sock.fd = s.fd;
      s.fd = -1;
      return std::nullopt;
    }
    last = std::string(std::strerror(errno)) + " (os error " + std::to_string(errno) + ")";
  }
  return last;
}

std::optional<std::string> proxy_connect(int fd, const cloud::Proxy& proxy, const std::string& host,
                                         uint16_t port) {
  const std::string authority =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (proxy.user)
    req += "Proxy-Authorization: Basic " +
           base64::encode(*proxy.user + ":" + (proxy.password ? std::string(proxy.password->view()) : "")) +
           "\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return "could not send CONNECT to the proxy";
  std::string head;
  char c;
  while (head.size() < 16384 && !head.ends_with("\r\n\r\n")) {
    if (::recv(fd, &c, 1, 0) != 1) return "proxy closed the connection";
    head += c;
  }
  if (head.size() < 12 || head.compare(9, 3, "200") != 0)
    return "proxy refused CONNECT: " + head.substr(0, head.find("\r\n"));
  return std::nullopt;
}

std::string ssl_errors() {
  std::string r;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!r.empty()) r += "; ";
    r += buf;
  }
  return r.empty() ? "handshake failed" : r;
}

}  // namespace

std::optional<Chain> tls_probe(const std::string& host, uint16_t port,
                               const std::optional<std::string>& proxy,
                               std::chrono::milliseconds timeout) {
  const std::string fail_tls = "Could not connect to " + host + " : could not complete TLS handshake";
  Fd sock;
  if (proxy) {
    auto p = cloud::parse_proxy(*proxy);
    if (!p) return Chain{"Could not connect to " + host + " : could not create TLS connector", p.error().message};
    if (auto e = connect_tcp(sock, p->host, p->port, timeout)) return Chain{fail_tls, "proxy " + p->display() + ": " + *e};
    if (auto e = proxy_connect(sock.fd, *p, host, port)) return Chain{fail_tls, *e};
  } else if (auto e = connect_tcp(sock, host, port, timeout)) {
    return Chain{fail_tls, *e};
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_default_verify_paths(ctx.get());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip_address(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  SSL_set_fd(ssl.get(), sock.fd);
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    long verify = SSL_get_verify_result(ssl.get());
    std::string why = verify != X509_V_OK ? std::string("certificate verify failed: ") +
                                                X509_verify_cert_error_string(verify)
                                          : ssl_errors();
    return Chain{fail_tls, why};
  }
  SSL_shutdown(ssl.get());
  return std::nullopt;
}

std::optional<std::string> peer_certificate(const std::string& connect_host, uint16_t port,
                                            const std::string& sni,
                                            std::chrono::milliseconds timeout) {
  Fd sock;
  if (connect_tcp(sock, connect_host, port, timeout)) return std::nullopt;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  if (!is_ip_address(sni)) SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
  SSL_set_fd(ssl.get(), sock.fd);
  if (SSL_connect(ssl.get()) != 1) return std::nullopt;
  X509* cert = SSL_get1_peer_certificate(ssl.get());
  if (!cert) return std::nullopt;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  X509_free(cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  SSL_shutdown(ssl.get());
  return std::string(data, static_cast<size_t>(n));
}

}  // namespace edge::cli::check
