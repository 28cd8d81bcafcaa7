// The HTTPS client against openssl s_server (real TLS) and tinyproxy (a real forward proxy).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>

#include "common/cloud/https_client.h"
#include "tests/identityd/pki.h"

using namespace identityd_test;
namespace cloud = edge::cloud;
using edge::ErrorKind;

namespace {
struct Docroot {
  edge::test::TempDir tmp;
  std::string root = tmp / "www";
  Docroot() { edge::test::run("mkdir -p " + root); }
  void add(const std::string& name, const std::string& response) {
    edge::test::write_file(root + "/" + name, response);
  }
};

std::string http_response(int status, const std::string& body,
                          const std::string& type = "application/json") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

cloud::Options trusting(std::optional<cloud::Proxy> proxy = std::nullopt) {
  cloud::Options o;
  o.system_roots = false;
  o.extra_roots_pem = pki().ca_pem();
  o.timeout = std::chrono::seconds(10);
  o.proxy = proxy;
  return o;
}

struct EnvGuard {
  std::vector<std::string> names{"https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"};
  std::map<std::string, std::string> saved;
  EnvGuard() {
    for (auto& n : names) {
      if (const char* v = std::getenv(n.c_str())) saved[n] = v;
      unsetenv(n.c_str());
    }
  }
  ~EnvGuard() {
    for (auto& n : names) unsetenv(n.c_str());
    for (auto& [k, v] : saved) setenv(k.c_str(), v.c_str(), 1);
  }
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

TEST_CASE("https urls and proxy settings are parsed strictly", "[unit]") {
  auto u = cloud::parse_https_url("https://hub.example:8443/devices/d1?api-version=1");
  REQUIRE(u);
  CHECK(u->host == "hub.example");
  CHECK(u->port == 8443);
  CHECK(u->target == "/devices/d1?api-version=1");
  CHECK(cloud::parse_https_url("https://127.0.0.1")->target == "/");
  CHECK(cloud::parse_https_url("https://[::1]:9/x")->host == "::1");
  CHECK(!cloud::parse_https_url("http://hub.example/"));
  CHECK(!cloud::parse_https_url("https://user:pw@hub.example/"));
  CHECK(!cloud::parse_https_url("https://hub.example:0/"));
  CHECK(!cloud::parse_https_url("https://hub.example:99999/"));
  CHECK(!cloud::parse_https_url("https:///path"));
  CHECK(!cloud::parse_https_url("https://hub example/"));

  auto p = cloud::parse_proxy("http://proxyuser:p%40ss@127.0.0.1:8888");
  REQUIRE(p);
  CHECK(p->host == "127.0.0.1");
  CHECK(p->port == 8888);
  CHECK(*p->user == "proxyuser");
  CHECK(p->password->view() == "p@ss");
  CHECK(p->display() == "127.0.0.1:8888");  // never the password
  CHECK(cloud::parse_proxy("proxy.corp:3128")->port == 3128);
  CHECK(cloud::parse_proxy("https://proxy.corp/")->port == 8080);
  CHECK(!cloud::parse_proxy("socks5://proxy:1080"));
  CHECK(!cloud::parse_proxy("http://proxy:1080/path"));
  CHECK(!cloud::parse_proxy("http://proxy:port"));

  CHECK(cloud::no_proxy_matches("localhost,.example.net", "hub.example.net"));
  CHECK(cloud::no_proxy_matches("example.net", "hub.example.net"));
  CHECK(cloud::no_proxy_matches("example.net", "EXAMPLE.net"));
  CHECK(!cloud::no_proxy_matches("example.net", "badexample.net"));
  CHECK(cloud::no_proxy_matches("*", "anything"));
  CHECK(cloud::no_proxy_matches("127.0.0.1:443, other", "127.0.0.1"));
  CHECK(!cloud::no_proxy_matches("", "hub"));
  CHECK(!cloud::no_proxy_matches(" , ", "hub"));
}

TEST_CASE("https client verifies the server and reads responses", "[integration]") {
  Docroot www;
  www.add("ok", http_response(200, R"({"a":1})"));
  www.add("chunked",
          "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
          "4\r\n{\"a\"\r\n3\r\n:2}\r\n0\r\n\r\n");
  www.add("big", http_response(200, std::string(5000, 'x')));
  www.add("huge-length", "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nx");
  www.add("garbage", "SSH-2.0-OpenSSH\r\n\r\n");
  www.add("badchunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  TlsServer server(www.root);
  std::string base = "https://127.0.0.1:" + std::to_string(server.port);

  auto r = cloud::request("GET", base + "/ok", {}, "", trusting());
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->body == R"({"a":1})");
  CHECK(*r->header("content-type") == "application/json");

  r = cloud::request("GET", "https://localhost:" + std::to_string(server.port) + "/chunked", {}, "",
                     trusting());
  REQUIRE(r);
  CHECK(r->body == R"({"a":2})");

  auto small = trusting();
  small.max_response = 1000;
  r = cloud::request("GET", base + "/big", {}, "", small);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::PayloadTooLarge);
  r = cloud::request("GET", base + "/huge-length", {}, "", trusting());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::PayloadTooLarge);

  r = cloud::request("GET", base + "/garbage", {}, "", trusting());
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::InvalidParameter);
  r = cloud::request("GET", base + "/badchunk", {}, "", trusting());
  REQUIRE(!r);
  CHECK(r.error().message.find("chunk") != std::string::npos);

  // Not trusted: only another CA, no system roots.
  cloud::Options other = trusting();
  other.extra_roots_pem = edge::test::read_file(pki().dir + "/other-ca.pem");
  r = cloud::request("GET", base + "/ok", {}, "", other);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::Unavailable);
  CHECK(r.error().message.find("not trusted") != std::string::npos);

  // Wrong name: the certificate is for 127.0.0.1 and localhost only.
  r = cloud::request("GET", "https://127.0.0.2:" + std::to_string(server.port) + "/ok", {}, "",
                     trusting());
  CHECK(!r);
}

TEST_CASE("https client gives up on silent and closed servers in bounded time", "[integration]") {
  // A listener that never accepts: the TCP connect succeeds, the TLS handshake never does.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  auto o = trusting();
  o.timeout = std::chrono::milliseconds(1500);
  auto start = std::chrono::steady_clock::now();
  auto r = cloud::request("GET", "https://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/", {},
                          "", o);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::Timeout);
  CHECK(seconds_since(start) < 4);
  ::close(fd);

  r = cloud::request("GET", "https://127.0.0.1:" + std::to_string(free_port()) + "/", {}, "", o);
  REQUIRE(!r);
  CHECK(r.error().kind == ErrorKind::Unavailable);
  CHECK(r.error().message.find("could not connect") != std::string::npos);
}

TEST_CASE("https through tinyproxy with and without credentials", "[integration][proxy]") {
  Docroot www;
  www.add("ok", http_response(200, R"({"via":"proxy"})"));
  TlsServer server(www.root);
  std::string url = "https://localhost:" + std::to_string(server.port) + "/ok";

  SECTION("open proxy") {
    edge::test::TempDir d;
    Tinyproxy proxy(d.path());
    auto r = cloud::request("GET", url, {}, "", trusting(*cloud::parse_proxy(proxy.url())));
    REQUIRE(r);
    CHECK(r->body == R"({"via":"proxy"})");
    CHECK(proxy.log().find("CONNECT") != std::string::npos);
  }
  SECTION("proxy with basic auth") {
    edge::test::TempDir d;
    Tinyproxy proxy(d.path(), "proxyuser", "proxypass");
    auto r = cloud::request("GET", url, {}, "",
                            trusting(*cloud::parse_proxy(proxy.url("proxyuser:proxypass"))));
    REQUIRE(r);
    CHECK(r->status == 200);

    // tinyproxy answers 407 without credentials and 401 to wrong ones; either is named.
    for (auto [creds, status] :
         {std::pair{std::string("proxyuser:wrong"), "401"}, std::pair{std::string(), "407"}}) {
      auto start = std::chrono::steady_clock::now();
      r = cloud::request("GET", url, {}, "", trusting(*cloud::parse_proxy(proxy.url(creds))));
      REQUIRE(!r);
      CHECK(seconds_since(start) < 3);
      INFO(r.error().message);
      CHECK(r.error().kind == ErrorKind::Unavailable);
      CHECK(r.error().message.find(std::string("refused CONNECT localhost:") +
                                   std::to_string(server.port) + ": " + status) !=
            std::string::npos);
      CHECK(r.error().message.find("proxy 127.0.0.1:" + std::to_string(proxy.port)) !=
            std::string::npos);
      CHECK(r.error().message.find("wrong") == std::string::npos);  // no password in errors
    }
  }
}

TEST_CASE("https_proxy HTTPS_PROXY and no_proxy from the environment", "[integration][proxy]") {
  EnvGuard env;
  Docroot www;
  www.add("ok", http_response(200, "{}"));
  TlsServer server(www.root);
  edge::test::TempDir d;
  Tinyproxy proxy(d.path(), "u", "p");
  std::string url = "https://localhost:" + std::to_string(server.port) + "/ok";
  cloud::Options o = trusting();
  o.proxy.reset();  // from the environment

  setenv("HTTPS_PROXY", proxy.url("u:p").c_str(), 1);
  auto r = cloud::request("GET", url, {}, "", o);
  REQUIRE(r);
  size_t connects = 0;
  for (size_t pos = 0; (pos = proxy.log().find("CONNECT", pos)) != std::string::npos; ++pos)
    ++connects;
  CHECK(connects >= 1);

  // https_proxy wins over HTTPS_PROXY.
  setenv("https_proxy", proxy.url().c_str(), 1);
  r = cloud::request("GET", url, {}, "", o);
  REQUIRE(!r);
  CHECK(r.error().message.find("407") != std::string::npos);

  // no_proxy exempts the host: a direct connection, the broken proxy is not used.
  setenv("no_proxy", "example.org,localhost", 1);
  r = cloud::request("GET", url, {}, "", o);
  CHECK(r);
  unsetenv("no_proxy");
  setenv("NO_PROXY", ".localhost,localhost", 1);
  CHECK(cloud::request("GET", url, {}, "", o));

  setenv("https_proxy", "socks5://nope", 1);
  unsetenv("NO_PROXY");
  r = cloud::request("GET", url, {}, "", o);
  REQUIRE(!r);
  CHECK(r.error().message.find("https_proxy") != std::string::npos);
}
