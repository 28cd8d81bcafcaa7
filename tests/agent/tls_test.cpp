// The agent's Mbed TLS client (agent/upstream/tls.h) under common/cloud's HTTP exchange, against
// `openssl s_server`: the trust bundle, host names and IP addresses, the system roots read only
// as a fallback, TLS >= 1.2, and errors that say why.
#include "agent/upstream/tls.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>
#include <thread>

#include "tests/support/harness.h"
#include "tests/support/net.h"

using agent::upstream::tls_connector;
using edge::test::TempDir;

namespace {
void sh(const std::string& command) {
  std::string out;
  int rc = edge::test::run(command + " 2>&1", &out);
  INFO(command << "\n" << out);
  REQUIRE(rc == 0);
}

// A CA and a server certificate it issued for `sans` (openssl's subjectAltName syntax).
struct Pki {
  TempDir dir;
  std::string ca_pem, ca_hash;
  explicit Pki(const std::string& sans) {
    static int n = 0;  // each CA its own name (and so its own hashed file name)
    sh("cd " + dir.path() +
       " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1"
       " -subj /CN=agent-tls-test-ca-" +
       std::to_string(++n) +
       " -keyout ca.key -out ca.pem"
       " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=server"
       " -keyout server.key -out server.csr"
       " && printf 'subjectAltName=" +
       sans +
       "\\nextendedKeyUsage=serverAuth\\n' > ext"
       " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1"
       " -extfile ext -out server.pem");
    ca_pem = edge::test::read_file(dir / "ca.pem");
    std::string out;
    REQUIRE(edge::test::run("openssl x509 -hash -noout -in " + dir / "ca.pem", &out) == 0);
    ca_hash = out.substr(0, out.find('\n'));
  }
};

// openssl s_server on 127.0.0.1 answering GET with its status page.
struct Server {
  int port = edge::test::free_port();
  std::unique_ptr<edge::test::Process> process;
  Server(const Pki& pki, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv{"/usr/bin/openssl",
                                  "s_server",
                                  "-accept",
                                  "127.0.0.1:" + std::to_string(port),
                                  "-cert",
                                  pki.dir / "server.pem",
                                  "-key",
                                  pki.dir / "server.key",
                                  "-www"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process = std::make_unique<edge::test::Process>(argv, std::map<std::string, std::string>{},
                                                    pki.dir / ("s_server" + std::to_string(port)));
    for (int i = 0; i < 100; ++i) {
      if (edge::test::run("bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port) +
                          "' 2>/dev/null") == 0)
        return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL("s_server did not start: " << process->log());
  }
  ~Server() { process->stop(); }
  edge::Result<edge::cloud::Response> get(const std::string& host, const std::string& bundle,
                                          bool system_roots = false) const {
    edge::cloud::ExchangeOptions o;
    o.proxy = std::optional<edge::cloud::Proxy>();
    o.timeout = std::chrono::seconds(10);
    return edge::cloud::request_over(tls_connector(bundle, system_roots), "GET",
                                     "https://" + host + ":" + std::to_string(port) + "/", {}, "",
                                     o);
  }
};

std::string message(const edge::Result<edge::cloud::Response>& r) {
  return r ? "status " + std::to_string(r->status) : r.error().message;
}
}  // namespace

TEST_CASE("the agent's TLS checks the trust bundle the host name and the address",
          "[integration]") {
  Pki pki("DNS:hub.agent-test,IP:127.0.0.1");
  Server server(pki);
  auto ok = server.get("127.0.0.1", pki.ca_pem);
  INFO(message(ok));
  REQUIRE(ok);
  CHECK(ok->status == 200);

  // A bundle that does not vouch for the server, and none at all.
  Pki other("IP:127.0.0.1");
  for (const std::string& bundle : {other.ca_pem, std::string()}) {
    auto r = server.get("127.0.0.1", bundle);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == edge::ErrorKind::Unavailable);
    CHECK_THAT(r.error().message, Catch::Contains("server certificate not trusted") &&
                                      Catch::Contains("not correctly signed by the trusted CA"));
  }
  // A name the certificate does not carry (localhost reaches the same server).
  auto name = server.get("localhost", pki.ca_pem);
  REQUIRE_FALSE(name);
  CHECK_THAT(name.error().message, Catch::Contains("not trusted") &&
                                       Catch::Contains("does not match with the expected CN"));
  // An address the certificate does not carry.
  Pki elsewhere("DNS:hub.agent-test,IP:127.0.0.2");
  Server wrong_ip(elsewhere);
  auto ip = wrong_ip.get("127.0.0.1", elsewhere.ca_pem);
  REQUIRE_FALSE(ip);
  CHECK_THAT(ip.error().message, Catch::Contains("does not match with the expected CN"));
  // A bundle with garbage around its certificate still yields it; pure garbage trusts nothing.
  auto noisy = server.get("127.0.0.1", "garbage\n" + pki.ca_pem + "\nmore garbage");
  INFO(message(noisy));
  CHECK(noisy);
  auto garbage =
      server.get("127.0.0.1", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  CHECK_FALSE(garbage);
}

TEST_CASE("the agent's TLS refuses servers below TLS 1.2", "[integration]") {
  Pki pki("IP:127.0.0.1");
  Server old(pki, {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"});
  auto r = old.get("127.0.0.1", pki.ca_pem);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == edge::ErrorKind::Unavailable);
  CHECK_THAT(r.error().message, Catch::Contains("TLS handshake with 127.0.0.1:") &&
                                    Catch::Contains("not within min/max boundaries"));
}

TEST_CASE("the system roots are read only when the trust bundle does not vouch for the server",
          "[integration]") {
  Pki pki("IP:127.0.0.1");
  Pki other("IP:127.0.0.1");
  Server server(pki);
  // A hashed directory as c_rehash makes it: the server's CA among unrelated roots.
  TempDir roots;
  sh("cp " + pki.dir / "ca.pem" + " " + roots / (pki.ca_hash + ".0") + " && cp " +
     other.dir / "ca.pem" + " " + roots / (other.ca_hash + ".0") + " && echo junk > " +
     roots / "0000000a.0");
  ::unsetenv("SSL_CERT_FILE");
  ::setenv("SSL_CERT_DIR", roots.path().c_str(), 1);
  auto fallback = server.get("127.0.0.1", other.ca_pem, true);
  INFO(message(fallback));
  REQUIRE(fallback);
  CHECK(fallback->status == 200);
  // Off, or without the right root, nothing vouches for it.
  CHECK_FALSE(server.get("127.0.0.1", other.ca_pem, false));
  TempDir empty;
  ::setenv("SSL_CERT_DIR", empty.path().c_str(), 1);
  auto none = server.get("127.0.0.1", other.ca_pem, true);
  REQUIRE_FALSE(none);
  CHECK_THAT(none.error().message, Catch::Contains("not correctly signed by the trusted CA"));
  // SSL_CERT_FILE: a bundle file, as OpenSSL reads it.
  ::setenv("SSL_CERT_FILE", (pki.dir / "ca.pem").c_str(), 1);
  CHECK(server.get("127.0.0.1", "", true));
  ::unsetenv("SSL_CERT_FILE");
  ::unsetenv("SSL_CERT_DIR");
}
