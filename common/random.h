// Random bytes straight from the kernel (getrandom(2)), for code that has no OpenSSL (keyd's and
// the agent's Mbed TLS). False only when the kernel refuses.
#pragma once
#include <sys/random.h>

#include <cerrno>
#include <cstddef>

namespace edge {

inline bool fill_random(unsigned char* out, size_t size) {
  while (size > 0) {
    ssize_t n = ::getrandom(out, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace edge
