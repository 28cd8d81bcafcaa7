#include "common/memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace edge::memory {
namespace {
struct Mapping {
  unsigned long start = 0, end = 0;
  bool candidate = false;  // private, read-only, backed by a file
  long rss_kib = 0, anonymous_kib = -1;
};
}  // namespace

size_t release_file_pages() {
  // All of smaps is read first and the pages dropped in one short loop at the end: code run
  // after a drop maps its pages (and their neighbours) back in.
  std::vector<Mapping> drop;
  drop.reserve(128);
  {
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    Mapping m;
    auto keep = [&] {
      // Anonymous > 0 means some pages were copied on write: dropping them would lose the copy.
      if (m.candidate && m.anonymous_kib == 0 && m.rss_kib > 0) drop.push_back(m);
    };
    while (std::getline(smaps, line)) {
      unsigned long start = 0, end = 0, offset = 0, inode = 0;
      char perms[5] = {};
      char dev[16] = {};
      int path_at = 0;
      if (std::sscanf(line.c_str(), "%lx-%lx %4s %lx %15s %lu %n", &start, &end, perms, &offset,
                      dev, &inode, &path_at) >= 6) {
        keep();
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
    keep();
  }
  size_t released = 0;
  for (const auto& m : drop)
    if (::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) == 0)
      released += static_cast<size_t>(m.rss_kib);
  return released;
}

}  // namespace edge::memory
