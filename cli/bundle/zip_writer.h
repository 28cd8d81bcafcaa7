// A small ZIP archive writer (PKWARE APPNOTE 6.3): deflate through zlib, or stored; entries
// are built in memory, so no data descriptors and no zip64 (each entry and the archive stay
// under 4 GiB, enforced).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace edge::cli::bundle {

class ZipWriter {
 public:
  static constexpr size_t kMaxArchive = 0xFFFFFFF0u;

  // Adds `name` (forward slashes, relative) with `data`, deflated unless `store`.
  Status add(const std::string& name, std::string_view data, bool store = false);
  // The archive: local entries, central directory, end record.
  std::string finish();
  size_t entries() const { return central_.size(); }

 private:
  struct Central {
    std::string name;
    uint16_t method;
    uint32_t crc, compressed, size, offset;
  };
  std::string out_;
  std::vector<Central> central_;
  uint16_t dos_time_ = 0, dos_date_ = 0;
  bool time_set_ = false;
};

}  // namespace edge::cli::bundle
