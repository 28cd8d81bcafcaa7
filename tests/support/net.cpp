#include "tests/support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>

namespace edge::test {
namespace {
// Binds a socket of `type` to an ephemeral port on 127.0.0.1; returns it and sets `port`.
int bind_loopback(int type, int& port) {
  int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}
}  // namespace

int free_port(int type) {
  int port = 0;
  ::close(bind_loopback(type, port));
  return port;
}

SntpServer::SntpServer(long skew_seconds) {
  fd_ = bind_loopback(SOCK_DGRAM, port_);
  timeval tv{60, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  thread_ = std::thread([this, skew_seconds] {
    unsigned char req[48];
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (::recvfrom(fd_, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&peer), &len) != 48) return;
    unsigned char resp[48] = {};
    resp[0] = 0x24;  // version 4, mode 4 (server)
    resp[1] = 1;     // stratum 1
    // NTP seconds count from 1900; receive and transmit timestamps at offsets 32 and 40.
    uint32_t secs = static_cast<uint32_t>(std::time(nullptr) + skew_seconds + 2208988800L);
    for (int off : {32, 40})
      for (int i = 0; i < 4; ++i) resp[off + i] = static_cast<unsigned char>(secs >> (24 - 8 * i));
    ::sendto(fd_, resp, sizeof resp, 0, reinterpret_cast<sockaddr*>(&peer), len);
  });
}

SntpServer::~SntpServer() {
  ::shutdown(fd_, SHUT_RDWR);  // wakes the thread if no request came
  thread_.join();
  ::close(fd_);
}

}  // namespace edge::test
