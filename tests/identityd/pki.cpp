#include "tests/identityd/pki.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "tests/support/net.h"

namespace identityd_test {
using edge::test::run;

const Pki& pki() {
  static edge::test::TempDir dir;
  static Pki p = [] {
    Pki k{dir.path()};
    std::string d = dir.path();
    std::string cmd = "cd " + d +
                      " && "
                      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                      "-keyout ca.key -out ca.pem "
                      "-subj /CN=identityd-test-ca -days 2 -addext "
                      "basicConstraints=critical,CA:TRUE 2>/dev/null && "
                      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
                      "server.key -out server.csr "
                      "-subj /CN=localhost 2>/dev/null && "
                      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
                      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                      "-days 2 -extfile ext.cnf "
                      "-out server.pem 2>/dev/null && "
                      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                      "-keyout other.key -out other-ca.pem "
                      "-subj /CN=other-ca -days 2 2>/dev/null";
    if (run(cmd) != 0) throw std::runtime_error("could not create the test PKI");
    return k;
  }();
  return p;
}

std::string Pki::ca_pem() const { return edge::test::read_file(dir + "/ca.pem"); }

int free_port() { return edge::test::free_port(); }

bool wait_for_port(int port, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TlsServer::TlsServer(const std::string& docroot, const std::string& extra_args)
    : port(free_port()) {
  const auto& k = pki();
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{
          "/bin/sh", "-c",
          "cd '" + docroot +
              "' && exec openssl s_server -quiet -HTTP -accept 127.0.0.1:" + std::to_string(port) +
              " -cert " + k.server_pem() + " -key " + k.server_key() + " " + extra_args},
      std::map<std::string, std::string>{}, docroot + "/../s_server.log");
  REQUIRE(wait_for_port(port));
}
TlsServer::~TlsServer() {
  if (process) process->stop();
}

Tinyproxy::Tinyproxy(const std::string& d, const std::string& user, const std::string& password)
    : port(free_port()), dir(d) {
  std::string conf =
      "Port " + std::to_string(port) +
      "\nListen 127.0.0.1\nTimeout 20\nMaxClients 20\nAllow 127.0.0.1\nLogLevel Connect\n";
  if (!user.empty()) conf += "BasicAuth " + user + " " + password + "\n";
  edge::test::write_file(dir + "/tinyproxy.conf", conf);
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{"/usr/bin/tinyproxy", "-d", "-c", dir + "/tinyproxy.conf"},
      std::map<std::string, std::string>{}, dir + "/tinyproxy.log");
  REQUIRE(wait_for_port(port));
}
Tinyproxy::~Tinyproxy() {
  if (process) process->stop();
}
std::string Tinyproxy::url(const std::string& creds) const {
  return "http://" + (creds.empty() ? "" : creds + "@") + "127.0.0.1:" + std::to_string(port);
}
std::string Tinyproxy::log() const { return edge::test::read_file(dir + "/tinyproxy.log"); }

}  // namespace identityd_test
