// One-shot DEFLATE compression with zlib, for callers that link zlib themselves (the agent's
// gzip'd module logs, the cli's zip entries). window_bits as zlib's deflateInit2: -15 raw
// DEFLATE (zip), 15 + 16 gzip header and trailer. nullopt when zlib fails.
#pragma once
#include <zlib.h>

#include <optional>
#include <string>
#include <string_view>

namespace edge {

inline std::optional<std::string> deflate_bytes(std::string_view data, int window_bits) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return std::nullopt;
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

}  // namespace edge
