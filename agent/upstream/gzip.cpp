#include "agent/upstream/gzip.h"

#include "common/deflate.h"

namespace agent::upstream {

edge::Result<std::string> gzip_compress(std::string_view data) {
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  auto out = edge::deflate_bytes(data, 15 + 16);
  if (!out) return edge::fail(edge::ErrorKind::Internal, "gzip compression failed");
  return std::move(*out);
}

}  // namespace agent::upstream
