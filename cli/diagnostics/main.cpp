// iotedge-diagnostics: the small program `iotedge check` runs inside a container (our
// replacement for upstream's IotedgeDiagnosticsDotnet), statically linked so its image holds
// nothing else. Subcommands and flags as upstream's:
//   local-time                                   print the container's Unix time
//   parent-hostname --parent-hostname H          resolve H (also: dns --hostname H)
//   edge-agent --management-uri unix:///x.sock   GET /modules on the management socket
//   upstream --hostname H --port P [--proxy U]   connect (443: TLS + an HTTPS request)
//            [--isNested true --workload_uri U]  (also: iothub ...)
// Invoked as `dotnet IotedgeDiagnosticsDotnet.dll <subcommand> ...` (upstream's command line)
// it skips those two words, so upstream's `iotedge check` can use this image too.
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

constexpr int kTimeoutSeconds = 30;

struct Failure {
  std::string message;
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// "--key value" / "--key=value" pairs, as .NET's command-line configuration reads them.
std::map<std::string, std::string> parse_flags(const std::vector<std::string>& args) {
  std::map<std::string, std::string> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].starts_with("--")) continue;
    std::string key = args[i].substr(2);
    if (auto eq = key.find('='); eq != std::string::npos) {
      flags[key.substr(0, eq)] = key.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      flags[key] = args[++i];
    }
  }
  return flags;
}

void set_timeouts(int fd) {
  timeval tv{kTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int connect_tcp(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    throw Failure{"Could not resolve host " + host + ": " + gai_strerror(rc)};
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    set_timeouts(fd);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(res);
      return fd;
    }
    last = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw Failure{"Could not connect to " + host + ":" + port + ": " + last};
}

std::string read_until_close(int fd, size_t limit) {
  std::string data;
  char buf[4096];
  while (data.size() < limit) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

std::string unix_get(const std::string& socket_path, const std::string& target) {
  Fd s;
  s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw Failure{"socket path too long: " + socket_path};
  std::strcpy(addr.sun_path, socket_path.c_str());
  set_timeouts(s.fd);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw Failure{"Could not connect to " + socket_path + ": " + std::strerror(errno)};
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: Close\r\n\r\n";
  ::send(s.fd, req.data(), req.size(), MSG_NOSIGNAL);
  return read_until_close(s.fd, 1 << 20);
}

std::string strip_unix(const std::string& uri) {
  return uri.starts_with("unix://") ? uri.substr(7) : uri;
}

void edge_agent(const std::map<std::string, std::string>& flags) {
  auto it = flags.find("management-uri");
  if (it == flags.end()) throw Failure{"Invalid args"};
  std::string uri = it->second;
  while (uri.ends_with("/")) uri.pop_back();
  std::string response = unix_get(strip_unix(uri), "/modules?api-version=2018-06-28");
  if (!response.starts_with("HTTP/1.1 200 OK")) throw Failure{"Got bad response: " + response};
}

void resolve(const std::string& host) {
  addrinfo hints{};
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0)
    throw Failure{"Could not resolve " + host + ": " + gai_strerror(rc)};
  ::freeaddrinfo(res);
}

// CONNECT through an http:// proxy ("http://[user:pass@]host:port").
int proxy_tunnel(const std::string& proxy, const std::string& host, const std::string& port) {
  std::string rest = proxy.substr(proxy.find("://") == std::string::npos ? 0 : proxy.find("://") + 3);
  while (rest.ends_with("/")) rest.pop_back();
  std::string auth;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    std::unique_ptr<BIO, decltype(&BIO_free_all)> b64(BIO_new(BIO_f_base64()), BIO_free_all);
    BIO* mem = BIO_new(BIO_s_mem());
    BIO_push(b64.get(), mem);
    BIO_set_flags(b64.get(), BIO_FLAGS_BASE64_NO_NL);
    BIO_write(b64.get(), cred.data(), static_cast<int>(cred.size()));
    (void)BIO_flush(b64.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(mem, &data);
    auth = "Proxy-Authorization: Basic " + std::string(data, static_cast<size_t>(n)) + "\r\n";
  }
  auto colon = rest.rfind(':');
  std::string phost = colon == std::string::npos ? rest : rest.substr(0, colon);
  std::string pport = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  int fd = connect_tcp(phost, pport);
  std::string req = "CONNECT " + host + ":" + port + " HTTP/1.1\r\nHost: " + host + ":" + port + "\r\n" + auth + "\r\n";
  ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string head;
  char c;
  while (head.size() < 16384 && !head.ends_with("\r\n\r\n")) {
    if (::recv(fd, &c, 1, 0) != 1) break;
    head += c;
  }
  if (head.size() < 12 || head.compare(9, 3, "200") != 0) {
    ::close(fd);
    throw Failure{"The proxy refused the tunnel to " + host + ":" + port + ": " + head.substr(0, head.find("\r\n"))};
  }
  return fd;
}

// The workload API's trust bundle (nested: the parent's certificate chains up to it).
std::string trust_bundle(const std::string& workload_uri) {
  std::string response = unix_get(strip_unix(workload_uri), "/trust-bundle?api-version=2019-01-30");
  auto body = response.find("\r\n\r\n");
  auto start = response.find("-----BEGIN", body == std::string::npos ? 0 : body);
  auto end = response.rfind("-----END CERTIFICATE-----");
  if (start == std::string::npos || end == std::string::npos) throw Failure{"Could not read the trust bundle"};
  std::string pem = response.substr(start, end + 25 - start);
  std::string out;  // JSON-escaped newlines back to real ones
  for (size_t i = 0; i < pem.size(); ++i) {
    if (pem[i] == '\\' && i + 1 < pem.size() && pem[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += pem[i];
    }
  }
  return out;
}

void https_probe(const std::string& host, const std::string& port, const std::optional<std::string>& proxy,
                 bool nested, const std::string& workload_uri) {
  Fd sock;
  sock.fd = proxy ? proxy_tunnel(*proxy, host, port) : connect_tcp(host, port);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_default_verify_paths(ctx.get());
  if (nested) {
    std::string pem = trust_bundle(workload_uri);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), cert);
      X509_free(cert);
    }
    ERR_clear_error();
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  unsigned char ip[16];
  const bool is_ip = inet_pton(AF_INET, host.c_str(), ip) == 1 || inet_pton(AF_INET6, host.c_str(), ip) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl.get()), host.c_str(), 0);
  }
  SSL_set_fd(ssl.get(), sock.fd);
  if (SSL_connect(ssl.get()) != 1) {
    long v = SSL_get_verify_result(ssl.get());
    std::string why = v != X509_V_OK ? X509_verify_cert_error_string(v) : "the TLS handshake failed";
    if (nested)
      why += ". Make sure that the parent root certificate is part of this device trustbundle. Use the command "
             "'openssl s_client -connect parent_hostname:443' to display parent certificate chain.";
    throw Failure{"The SSL connection could not be established: " + why};
  }
  std::string req = "GET /devices/0000/modules HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  SSL_write(ssl.get(), req.data(), static_cast<int>(req.size()));
  char buf[1024];
  int n = SSL_read(ssl.get(), buf, sizeof buf);
  if (n <= 0 || std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.", 0) != 0)
    throw Failure{"No HTTP response from " + host + ":" + port};
}

void upstream(const std::map<std::string, std::string>& flags) {
  auto host = flags.find("hostname");
  auto port = flags.find("port");
  if (host == flags.end() || port == flags.end()) throw Failure{"Invalid args"};
  std::optional<std::string> proxy;
  if (auto p = flags.find("proxy"); p != flags.end()) proxy = p->second;
  const bool nested = flags.contains("isNested") && flags.at("isNested") == "true";
  if (port->second == "443") {
    https_probe(host->second, port->second, proxy, nested,
                flags.contains("workload_uri") ? flags.at("workload_uri") : "unix:///var/run/iotedge/workload.sock");
    return;
  }
  Fd s;
  s.fd = proxy ? proxy_tunnel(*proxy, host->second, port->second) : connect_tcp(host->second, port->second);
}

int run(std::vector<std::string> args) {
  if (args.empty()) throw Failure{"Invalid args"};
  const std::string command = args.front();
  auto flags = parse_flags(args);
  if (command == "local-time") {
    std::cout << static_cast<long long>(std::time(nullptr)) << "\n";
  } else if (command == "parent-hostname") {
    if (!flags.contains("parent-hostname")) throw Failure{"Invalid args"};
    resolve(flags["parent-hostname"]);
  } else if (command == "dns") {
    if (!flags.contains("hostname")) throw Failure{"Invalid args"};
    resolve(flags["hostname"]);
  } else if (command == "edge-agent") {
    edge_agent(flags);
  } else if (command == "upstream" || command == "iothub") {
    upstream(flags);
  } else {
    throw Failure{"Invalid args"};
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string self = argv[0];
  self = self.substr(self.rfind('/') == std::string::npos ? 0 : self.rfind('/') + 1);
  if (self == "dotnet" && !args.empty() && args.front().ends_with(".dll")) args.erase(args.begin());
  try {
    return run(args);
  } catch (const Failure& f) {
    std::cerr << f.message << "\n";
    return 1;
  }
}
