// A private swtpm plus the built aziot-tpmd talking to it, in a temp dir.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "common/http/client.h"
#include "tests/support/harness.h"
#include "tests/tpmd/swtpm.h"

namespace tpmd_test {

struct Tpmd {
  // extra_config is appended to the generated config (tcti and endpoint are set).
  explicit Tpmd(std::string extra_config = "", bool start_now = true);
  ~Tpmd();
  void write_config(const std::string& extra);
  void start();       // starts and waits for the socket
  int start_fails();  // starts, expects an exit; returns the exit code
  void stop();
  void restart() {
    stop();
    start();
  }
  edge::test::Reply call(const std::string& method, const std::string& path,
                         const std::optional<edge::http::Json>& body = std::nullopt);
  edge::test::Reply get_keys();
  edge::test::Reply import(const std::string& blob);
  edge::test::Reply sign(const std::string& data);
  std::string log() const;

  edge::test::TempDir dir;
  tpm_test::Swtpm swtpm{dir / "tpmstate"};
  std::string socket = dir / "tpmd.sock";
  std::map<std::string, std::string> env;
  std::unique_ptr<edge::test::Process> process;
  std::unique_ptr<edge::http::UnixClient> client;
};

std::string api(const std::string& path);  // appends ?api-version=2020-09-01
std::string b64(const std::string& bytes);
std::string unb64(const std::string& text);

}  // namespace tpmd_test
