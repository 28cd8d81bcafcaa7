#include "keyd/keystore.h"

#include "common/fs.h"
#include "common/hex.h"
#include "common/uri.h"
#include "keyd/pkcs11.h"
#include "keyd/tpm_backend.h"

namespace keyd {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;

constexpr char kHandleValidationKeyId[] = "handle-validation-key";

edge::Status validate_key_id(const std::string& id) {
  if (id.empty()) return invalid("parameter \"id\" has an invalid value\ncaused by: empty key id");
  if (id.size() > kMaxKeyIdLength)
    return invalid("parameter \"id\" has an invalid value\ncaused by: key id longer than " +
                   std::to_string(kMaxKeyIdLength) + " bytes");
  for (unsigned char c : id)
    if (c < 0x20 || c == 0x7f)
      return invalid("parameter \"id\" has an invalid value\ncaused by: key id contains control characters");
  return {};
}

std::string key_file_path(const std::string& homedir, const std::string& id) {
  std::string clean;
  for (char c : id)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) clean += c;
  return homedir + "/keys/" + clean + "-" + edge::crypto::hex(crypto::sha256(id)) + ".key";
}

Result<std::unique_ptr<KeyStore>> KeyStore::open(const Config& config) {
  auto store = std::unique_ptr<KeyStore>(new KeyStore());
  store->config_ = config;
  store->files_ = std::make_unique<FileBackend>();
  EDGE_TRY_VOID(edge::fs::ensure_dir(config.homedir_path, 0700));
  EDGE_TRY_VOID(edge::fs::ensure_dir(config.homedir_path + "/keys", 0700));
  edge::fs::remove_stale_temp_files(config.homedir_path + "/keys");
  if (config.pkcs11_lib_path) {
    store->pkcs11_ = EDGE_TRY(make_pkcs11_backend(*config.pkcs11_lib_path, config.pkcs11_base_slot));
  } else if (config.pkcs11_base_slot) {
    return invalid("aziot_keys.pkcs11_base_slot needs aziot_keys.pkcs11_lib_path");
  }
  if (config.tpm_tcti)
    store->tpm_ = EDGE_TRY(make_tpm_backend(*config.tpm_tcti, Secret(config.tpm_owner_auth.value_or(""))));
  return store;
}

Result<std::vector<KeyStore::Location>> KeyStore::locations(const std::string& id) const {
  std::vector<Location> out;
  if (auto it = config_.preloaded_keys.find(id); it != config_.preloaded_keys.end()) {
    const std::string& uri = it->second;
    if (uri.starts_with("file://")) {
      auto path = edge::uri::percent_decode(std::string_view(uri).substr(7));
      if (!path || path->empty() || (*path)[0] != '/') return edge::internal("invalid preloaded key URI for " + id);
      out.push_back({files_.get(), *path});
    } else {
      out.push_back({pkcs11_.get(), uri});
    }
    return out;
  }
  if (pkcs11_ && config_.pkcs11_base_slot) {
    out.push_back({pkcs11_.get(), pkcs11_uri_with_object(*config_.pkcs11_base_slot, id)});
  }
  if (tpm_) out.push_back({tpm_.get(), tpm_key_file_path(config_.homedir_path, id)});
  out.push_back({files_.get(), key_file_path(config_.homedir_path, id)});
  return out;
}

namespace {
std::unexpected<edge::Error> not_found(const char* what, const std::string& id) {
  return fail(ErrorKind::NotFound, std::string("parameter \"id\" has an invalid value\ncaused by: ") +
                                       what + " \"" + id + "\" not found");
}
}  // namespace

Result<std::shared_ptr<KeyPair>> KeyStore::load_key_pair(const std::string& id) {
  EDGE_TRY_VOID(validate_key_id(id));
  for (const auto& loc : EDGE_TRY(locations(id))) {
    auto k = loc.backend->open_key_pair(loc.where);
    if (k) return k;
    if (k.error().kind != ErrorKind::NotFound) return fail(k.error());
  }
  return not_found("key pair", id);
}

Status KeyStore::create_key_pair_if_not_exists(const std::string& id,
                                               const std::vector<KeyPairAlgorithm>& preferred) {
  std::lock_guard lock(create_mutex_);
  auto existing = load_key_pair(id);
  if (existing) return {};
  if (existing.error().kind != ErrorKind::NotFound) return fail(existing.error());
  auto locs = EDGE_TRY(locations(id));
  // Key pairs are created only in the first location (no fallback), as upstream.
  EDGE_TRY(locs.front().backend->create_key_pair(locs.front().where, preferred));
  return {};
}

Status KeyStore::delete_key_pair(const std::string& id) {
  std::lock_guard lock(create_mutex_);
  for (const auto& loc : EDGE_TRY(locations(id))) EDGE_TRY_VOID(loc.backend->delete_key_pair(loc.where));
  return {};
}

Status KeyStore::move_key_pair(const std::string& from, const std::string& to) {
  EDGE_TRY_VOID(validate_key_id(from));
  EDGE_TRY_VOID(validate_key_id(to));
  std::lock_guard lock(create_mutex_);
  auto src = EDGE_TRY(locations(from));
  auto dst = EDGE_TRY(locations(to));
  for (const auto& s : src) {
    if (!s.backend->open_key_pair(s.where)) continue;
    for (const auto& d : dst) {
      if (d.backend != s.backend) continue;
      return s.backend->move_key_pair(s.where, d.where);
    }
    return invalid("cannot move key pair \"" + from + "\" to \"" + to + "\": different key stores");
  }
  return not_found("key pair", from);
}

Result<std::shared_ptr<SymmetricKey>> KeyStore::load_key(const std::string& id) {
  EDGE_TRY_VOID(validate_key_id(id));
  for (const auto& loc : EDGE_TRY(locations(id))) {
    auto k = loc.backend->open_key(loc.where);
    if (k) return k;
    if (k.error().kind != ErrorKind::NotFound) return fail(k.error());
  }
  return not_found("key", id);
}

Status KeyStore::create_key_if_not_exists(const std::string& id, Usage usage) {
  std::lock_guard lock(create_mutex_);
  auto existing = load_key(id);
  if (existing) return {};
  if (existing.error().kind != ErrorKind::NotFound) return fail(existing.error());
  // Symmetric keys fall back to the next location when a token cannot make them.
  edge::Error last;
  for (const auto& loc : EDGE_TRY(locations(id))) {
    auto k = loc.backend->create_key(loc.where, usage);
    if (k) return {};
    last = k.error();
    if (last.kind != ErrorKind::Unsupported) break;
  }
  return fail(last);
}

Status KeyStore::import_key(const std::string& id, const Secret& bytes, Usage usage) {
  EDGE_TRY_VOID(validate_key_id(id));
  std::lock_guard lock(create_mutex_);
  edge::Error last;
  for (const auto& loc : EDGE_TRY(locations(id))) {
    auto k = loc.backend->import_key(loc.where, bytes, usage);
    if (k) return {};
    last = k.error();
    if (last.kind != ErrorKind::Unsupported) break;
  }
  return fail(last);
}

Status KeyStore::delete_key(const std::string& id) {
  std::lock_guard lock(create_mutex_);
  for (const auto& loc : EDGE_TRY(locations(id))) EDGE_TRY_VOID(loc.backend->delete_key(loc.where));
  return {};
}

Result<SymmetricKey*> KeyStore::handle_validation_key() {
  std::lock_guard lock(validation_mutex_);
  if (!validation_key_) {
    EDGE_TRY_VOID(create_key_if_not_exists(kHandleValidationKeyId, Usage{false, true, false}));
    validation_key_ = EDGE_TRY(load_key(kHandleValidationKeyId));
  }
  return validation_key_.get();
}

}  // namespace keyd
