#include "certd/store.h"

#include "common/crypto.h"
#include "common/fs.h"

namespace certd {
using edge::ErrorKind;
using edge::invalid;

namespace {
std::unexpected<edge::Error> bad_id(const std::string& why) {
  return invalid("parameter \"id\" has an invalid value\ncaused by: " + why);
}
}  // namespace

edge::Status validate_cert_id(const std::string& id) {
  if (id.empty()) return bad_id("empty cert id");
  if (id.size() > kMaxCertIdLength)
    return bad_id("cert id longer than " + std::to_string(kMaxCertIdLength) + " bytes");
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f) return bad_id("cert id contains control characters");
  if (id.front() == '/') return bad_id("cert id must not be an absolute path");
  size_t start = 0;
  while (start <= id.size()) {
    size_t slash = id.find('/', start);
    if (slash == std::string::npos) slash = id.size();
    std::string_view segment(id.data() + start, slash - start);
    if (segment == "." || segment == "..")
      return bad_id("cert id must not contain \".\" or \"..\" path segments");
    start = slash + 1;
  }
  return {};
}

std::string cert_file_path(const std::string& homedir, const std::string& id) {
  std::string clean;
  for (char c : id)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) clean += c;
  return homedir + "/certs/" + clean + "-" + edge::crypto::hex(edge::crypto::sha256(id)) + ".cer";
}

CertStore::CertStore(std::string homedir, std::map<std::string, Preloaded> preloaded)
    : homedir_(std::move(homedir)), preloaded_(std::move(preloaded)) {}

edge::Status CertStore::prepare(const std::string& homedir) {
  EDGE_TRY_VOID(edge::fs::ensure_dir(homedir, 0700));
  EDGE_TRY_VOID(edge::fs::ensure_dir(homedir + "/certs", 0700));
  edge::fs::remove_stale_temp_files(homedir + "/certs");
  return {};
}

Result<std::optional<std::string>> CertStore::read(const std::string& path) const {
  auto bytes = edge::fs::read_file(path, kMaxPemBytes);
  if (bytes) return std::optional<std::string>(std::move(*bytes));
  if (bytes.error().kind == ErrorKind::NotFound) return std::optional<std::string>();
  return edge::internal("could not read '" + path + "': " + bytes.error().message);
}

Result<std::optional<std::string>> CertStore::get(const std::string& id) const {
  auto it = preloaded_.find(id);
  if (it == preloaded_.end()) return read(cert_file_path(homedir_, id));
  if (const auto* path = std::get_if<std::string>(&it->second)) return read(*path);
  // A bundle: its members that exist, in order (the config forbids nested bundles).
  std::string all;
  for (const auto& member : std::get<std::vector<std::string>>(it->second)) {
    auto pem = EDGE_TRY(get(member));
    if (!pem) continue;
    all += *pem;
    if (!all.empty() && all.back() != '\n') all += '\n';
  }
  if (all.empty()) return std::optional<std::string>();
  return std::optional<std::string>(std::move(all));
}

Result<std::string> CertStore::writable_path(const std::string& id) const {
  auto it = preloaded_.find(id);
  if (it == preloaded_.end()) return cert_file_path(homedir_, id);
  if (const auto* path = std::get_if<std::string>(&it->second)) return *path;
  return invalid("parameter \"id\" has an invalid value\ncaused by: cert \"" + id +
                 "\" is a preloaded list of cert ids (a bundle) and cannot be written or deleted");
}

edge::Status CertStore::check_writable(const std::string& id) const {
  EDGE_TRY(writable_path(id));
  return {};
}

edge::Status CertStore::put(const std::string& id, std::string_view pem) const {
  auto path = EDGE_TRY(writable_path(id));
  auto written = edge::fs::write_atomic(path, pem, 0644);
  if (!written) return edge::internal("could not write '" + path + "': " + written.error().message);
  return {};
}

edge::Status CertStore::remove(const std::string& id) const {
  auto path = EDGE_TRY(writable_path(id));
  auto removed = edge::fs::remove_file(path);
  if (!removed)
    return edge::internal("could not delete '" + path + "': " + removed.error().message);
  return {};
}

}  // namespace certd
