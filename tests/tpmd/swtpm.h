// Starts a private swtpm (TPM 2.0 simulator) for one test: its own state directory and a free
// loopback port pair (server P, control P+1), killed with the test (PR_SET_PDEATHSIG via
// edge::test::Process). Header-only so tests/keyd can use it too.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "tests/support/harness.h"

namespace tpm_test {

inline bool port_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

inline bool port_accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// A port P with P and P+1 free on 127.0.0.1 (random start so parallel tests rarely collide).
inline int free_port_pair() {
  std::random_device rd;
  std::mt19937 gen(rd() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> dist(20000, 59998);
  for (int i = 0; i < 200; ++i) {
    int p = dist(gen) & ~1;
    if (port_free(p) && port_free(p + 1)) return p;
  }
  FAIL("no free loopback port pair");
  return -1;
}

class Swtpm {
 public:
  explicit Swtpm(std::string state_dir) : state_(std::move(state_dir)) {
    REQUIRE(edge::test::run("mkdir -p " + state_) == 0);
    // Another test may take the port between the check and swtpm's bind: try a few.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port = free_port_pair();
      if (try_start()) return;
      stop();
    }
    FAIL("swtpm did not start; see " + state_ + "/../swtpm.log");
  }
  ~Swtpm() { stop(); }

  void start() { REQUIRE(try_start()); }
  bool try_start() {
    std::string p = std::to_string(port), c = std::to_string(port + 1);
    process = std::make_unique<edge::test::Process>(
        std::vector<std::string>{"/usr/bin/swtpm", "socket", "--tpm2", "--server",
                                 "type=tcp,port=" + p + ",bindaddr=127.0.0.1", "--ctrl",
                                 "type=tcp,port=" + c + ",bindaddr=127.0.0.1", "--tpmstate",
                                 "dir=" + state_, "--flags", "not-need-init,startup-clear"},
        std::map<std::string, std::string>{}, state_ + "/../swtpm.log");
    for (int i = 0; i < 200 && process->running(); ++i) {
      if (port_accepts(port)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }
  void stop() {
    if (process) process->stop();
    process.reset();
  }
  void restart() {
    stop();
    start();
  }
  std::string tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port); }
  // Runs a tpm2-tools command line against this TPM; returns its exit code.
  int tools(const std::string& command, std::string* out = nullptr) const {
    return edge::test::run("TPM2TOOLS_TCTI='" + tcti() + "' TSS2_LOG=all+NONE " + command + " 2>&1",
                           out);
  }

  int port = 0;
  std::unique_ptr<edge::test::Process> process;

 private:
  std::string state_;
};

}  // namespace tpm_test
