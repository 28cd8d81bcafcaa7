#include "common/memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace edge::memory {
namespace {
struct Mapping {
  unsigned long start = 0, end = 0;
  bool candidate = false;  // read-only, backed by a file
  long rss_kib = 0, anonymous_kib = -1;
};

size_t release(const Mapping& m) {
  // Anonymous > 0 means some pages were copied on write: dropping them would lose the copy.
  if (!m.candidate || m.anonymous_kib != 0 || m.rss_kib == 0) return 0;
  if (::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) != 0) return 0;
  return static_cast<size_t>(m.rss_kib);
}
}  // namespace

size_t release_file_pages() {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  Mapping m;
  size_t released = 0;
  while (std::getline(smaps, line)) {
    unsigned long start = 0, end = 0;
    char perms[5] = {};
    unsigned long offset = 0;
    char dev[16] = {};
    unsigned long inode = 0;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx %4s %lx %15s %lu %n", &start, &end, perms, &offset, dev,
                    &inode, &path_at) >= 6) {
      released += release(m);
      m = Mapping{start, end};
      // Shared mappings and anything writable are left alone; so are [vdso] and the like.
      m.candidate = perms[1] == '-' && perms[3] == 'p' && inode != 0 && path_at > 0 &&
                    line.size() > static_cast<size_t>(path_at) &&
                    line[static_cast<size_t>(path_at)] == '/';
    } else if (line.rfind("Rss:", 0) == 0) {
      m.rss_kib = std::atol(line.c_str() + 4);
    } else if (line.rfind("Anonymous:", 0) == 0) {
      m.anonymous_kib = std::atol(line.c_str() + 10);
    }
  }
  released += release(m);
  return released;
}

}  // namespace edge::memory
