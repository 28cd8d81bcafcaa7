// Loopback helpers for tests: a free port, and a one-shot SNTP server.
#pragma once
#include <sys/socket.h>

#include <thread>

namespace edge::test {

// A port nothing listens on right now on 127.0.0.1 (SOCK_STREAM or SOCK_DGRAM).
int free_port(int type = SOCK_STREAM);

// Answers one SNTP request on 127.0.0.1:port() with this host's clock shifted by `skew_seconds`
// (`iotedge check`'s host-local-time asks it instead of pool.ntp.org).
class SntpServer {
 public:
  explicit SntpServer(long skew_seconds = 0);
  ~SntpServer();
  SntpServer(const SntpServer&) = delete;
  SntpServer& operator=(const SntpServer&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace edge::test
