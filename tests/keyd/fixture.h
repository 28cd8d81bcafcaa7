// Starts the built aziot-keyd in a temp dir (filesystem or SoftHSM backend) and talks to it.
#pragma once
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "common/crypto.h"
#include "common/http/client.h"
#include "tests/support/harness.h"

namespace keyd_test {

enum class Backend { Files, SoftHsm };

struct Keyd {
  explicit Keyd(Backend backend, std::string extra_config = "");
  ~Keyd();
  void start();
  void stop();
  void restart() {
    stop();
    start();
  }
  edge::test::Reply call(const std::string& method, const std::string& path,
                         const std::optional<edge::http::Json>& body = std::nullopt);
  // Calls as another uid (a forked child does setuid), e.g. 65534.
  edge::test::Reply call_as(uid_t uid, const std::string& method, const std::string& path,
                            const std::optional<edge::http::Json>& body = std::nullopt);
  std::string create_key_pair(const std::string& id, const std::string& algorithms);
  std::string create_key(const std::string& id, const std::string& usage = "derive,sign");
  edge::crypto::PKey public_key(const std::string& handle);  // rebuilt from /parameters
  std::vector<std::string> key_files() const;

  edge::test::TempDir dir;
  Backend backend;
  std::string extra_config;
  std::string socket = dir / "keyd.sock";
  std::map<std::string, std::string> env;
  std::unique_ptr<edge::test::Process> process;
  std::unique_ptr<edge::http::UnixClient> client;
};

std::string api(const std::string& path);  // appends ?api-version=2021-05-01
std::string b64(const std::string& bytes);
std::string unb64(const std::string& text);
std::string sha256(const std::string& data);

}  // namespace keyd_test
