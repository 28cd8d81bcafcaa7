// Test PKI made with the openssl CLI, plus helpers to run openssl s_server and tinyproxy on
// loopback ports.
#pragma once
#include <memory>
#include <string>

#include "tests/support/harness.h"

namespace identityd_test {

// A CA and a server certificate for 127.0.0.1 / localhost, made once per test process.
struct Pki {
  std::string dir;
  std::string ca_pem() const;
  std::string server_pem() const { return dir + "/server.pem"; }
  std::string server_key() const { return dir + "/server.key"; }
};
const Pki& pki();

int free_port();
bool wait_for_port(int port, int timeout_ms = 10000);

// openssl s_server -HTTP serving the files (complete HTTP responses) in `docroot`.
struct TlsServer {
  explicit TlsServer(const std::string& docroot, const std::string& extra_args = "");
  ~TlsServer();
  int port;
  std::unique_ptr<edge::test::Process> process;
};

// tinyproxy on loopback, optionally with Basic auth.
struct Tinyproxy {
  Tinyproxy(const std::string& dir, const std::string& user = "", const std::string& password = "");
  ~Tinyproxy();
  std::string url(const std::string& creds = "") const;
  std::string log() const;
  int port;
  std::string dir;
  std::unique_ptr<edge::test::Process> process;
};

}  // namespace identityd_test
