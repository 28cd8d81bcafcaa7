#include "cli/bundle/zip_writer.h"

#include <zlib.h>

#include <ctime>

#include "common/deflate.h"

namespace edge::cli::bundle {
namespace {

void put16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}
void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xffff);
  put16(s, v >> 16);
}

Result<std::string> deflate_raw(std::string_view data) {
  auto out = edge::deflate_bytes(data, -15);
  if (!out) return internal("could not compress");
  return std::move(*out);
}

}  // namespace

Status ZipWriter::add(const std::string& name, std::string_view data, bool store) {
  if (name.empty() || name.size() > 0xffff || name.front() == '/' || name.find("..") != std::string::npos)
    return invalid("bad zip entry name '" + name + "'");
  if (central_.size() >= 0xffff) return fail(ErrorKind::PayloadTooLarge, "too many zip entries");
  if (data.size() > kMaxArchive || out_.size() + data.size() > kMaxArchive)
    return fail(ErrorKind::PayloadTooLarge, "support bundle too large");
  if (!time_set_) {
    std::time_t now = std::time(nullptr);
    struct tm tm {};
    localtime_r(&now, &tm);
    dos_time_ = static_cast<uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
    dos_date_ = static_cast<uint16_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
    time_set_ = true;
  }
  const uint32_t crc = static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
                                                   static_cast<uInt>(data.size())));
  std::string body;
  uint16_t method = 0;
  if (!store) {
    body = EDGE_TRY(deflate_raw(data));
    method = 8;
  }
  if (store || body.size() >= data.size()) {  // incompressible: keep it stored
    body.assign(data);
    method = 0;
  }
  const uint32_t offset = static_cast<uint32_t>(out_.size());
  put32(out_, 0x04034b50);
  put16(out_, 20);  // version needed: 2.0 (deflate)
  put16(out_, 0x0800);  // UTF-8 names
  put16(out_, method);
  put16(out_, dos_time_);
  put16(out_, dos_date_);
  put32(out_, crc);
  put32(out_, static_cast<uint32_t>(body.size()));
  put32(out_, static_cast<uint32_t>(data.size()));
  put16(out_, static_cast<uint32_t>(name.size()));
  put16(out_, 0);
  out_ += name;
  out_ += body;
  central_.push_back({name, method, crc, static_cast<uint32_t>(body.size()), static_cast<uint32_t>(data.size()), offset});
  return {};
}

std::string ZipWriter::finish() {
  const uint32_t start = static_cast<uint32_t>(out_.size());
  for (const auto& c : central_) {
    put32(out_, 0x02014b50);
    put16(out_, 0x0314);  // made by: Unix, 2.0
    put16(out_, 20);
    put16(out_, 0x0800);
    put16(out_, c.method);
    put16(out_, dos_time_);
    put16(out_, dos_date_);
    put32(out_, c.crc);
    put32(out_, c.compressed);
    put32(out_, c.size);
    put16(out_, static_cast<uint32_t>(c.name.size()));
    put16(out_, 0);  // extra
    put16(out_, 0);  // comment
    put16(out_, 0);  // disk
    put16(out_, 0);  // internal attributes
    put32(out_, 0100600u << 16);  // external: a regular file, 0600
    put32(out_, c.offset);
    out_ += c.name;
  }
  const uint32_t size = static_cast<uint32_t>(out_.size()) - start;
  put32(out_, 0x06054b50);
  put16(out_, 0);
  put16(out_, 0);
  put16(out_, static_cast<uint32_t>(central_.size()));
  put16(out_, static_cast<uint32_t>(central_.size()));
  put32(out_, size);
  put32(out_, start);
  put16(out_, 0);
  std::string r = std::move(out_);
  out_.clear();
  central_.clear();
  return r;
}

}  // namespace edge::cli::bundle
