// IdentityManager: auto-renewal of the device identity certificate (DPS X.509 with
// identity_auto_renew), in upstream's order: new key and certificate under the "-temp" ids,
// DPS registration with them, then the certificate and key committed to the configured ids.
#include <openssl/err.h>
#include <openssl/pem.h>

#include <ctime>

#include "common/crypto.h"
#include "common/log.h"
#include "identityd/identity.h"
#include "identityd/keyd_key.h"
#include "identityd/renewal.h"

namespace identityd {
using edge::fail;
using edge::http::Json;

namespace {
int64_t epoch_of(const ASN1_TIME* t) {
  struct tm tm {};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

edge::crypto::X509Ptr first_cert(const std::string& pem) {
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  edge::crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  return cert;
}

// A CSR (no extensions, as upstream) for `subject`, signed through keyd.
Result<std::string> csr_pem(EVP_PKEY* key, const X509_NAME* subject) {
  edge::crypto::X509Req req(X509_REQ_new());
  if (X509_REQ_set_subject_name(req.get(), subject) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1 || X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0)
    return edge::internal("could not build the renewal CSR: " + edge::crypto::last_error());
  edge::crypto::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}
}  // namespace

int64_t IdentityManager::renew_identity_if_due() {
  constexpr int64_t kIdle = 600;  // nothing to renew: look again later (the config may change)
  std::lock_guard lock(mutex_);
  const auto& p = config_.provisioning;
  if (p.source != Source::Dps || p.method != AuthMethod::X509 || !p.identity_auto_renew || !device_)
    return kIdle;
  const AutoRenew& policy = *p.identity_auto_renew;
  auto threshold = parse_renew_policy(policy.threshold);
  auto retry = parse_renew_policy(policy.retry);
  if (!threshold || !retry) return kIdle;  // refused when the config was loaded
  auto pem = certs_.get(p.identity_cert);
  if (!pem) {
    edge::log::warn("Failed to read the identity certificate " + p.identity_cert +
                    " for renewal: " + pem.error().message);
    return 60;
  }
  auto leaf = first_cert(*pem);
  if (!leaf) return kIdle;
  int64_t not_before = epoch_of(X509_get0_notBefore(leaf.get()));
  int64_t not_after = epoch_of(X509_get0_notAfter(leaf.get()));
  int64_t wait = seconds_until_due(not_before, not_after, std::time(nullptr), *threshold);
  if (wait > 0) return wait;
  edge::log::info("Renewing the device identity certificate " + p.identity_cert);
  if (auto s = renew_identity_cert(policy, leaf.get()); !s) {
    int64_t again = retry_after(not_before, not_after, *retry);
    edge::log::warn("Failed to renew the device identity certificate " + p.identity_cert + ": " +
                    s.error().message + "; retrying in " + std::to_string(again) + " s");
    return again;
  }
  edge::log::info("Renewed the device identity certificate " + p.identity_cert);
  return 1;  // look at the new certificate's schedule
}

Status IdentityManager::renew_identity_cert(const AutoRenew& policy, X509* old_leaf) {
  const auto& p = config_.provisioning;
  const std::string temp_cert = p.identity_cert + "-temp";
  std::string key_id = p.identity_pk;
  if (policy.rotate_key) {  // a fresh key under "<pk>-temp"
    key_id = p.identity_pk + "-temp";
    if (auto old = keys_.load_key_pair(key_id)) EDGE_TRY_VOID(keys_.delete_key_pair(*old));
  }
  auto handle = policy.rotate_key ? keys_.create_key_pair_if_not_exists(key_id, "rsa-2048:*")
                                  : keys_.load_key_pair(key_id);
  if (!handle) return fail(handle.error().context("could not get the key " + key_id));
  auto key = EDGE_TRY(keyd_private_key(keys_.socket_path(), *handle));
  auto csr = EDGE_TRY(csr_pem(key.get(), X509_get_subject_name(old_leaf)));
  auto pem = certs_.create(temp_cert, csr);
  if (!pem) return fail(pem.error().context("certd could not issue " + temp_cert));
  if (auto s = certs_.remove(temp_cert); !s)
    edge::log::warn("Failed to delete the temporary certificate " + temp_cert + ": " +
                    s.error().message);

  // Register the new credentials with DPS before committing them.
  Json info;
  auto d = provision_from_cloud(info, std::pair{*pem, key_id});
  if (!d) return fail(d.error().context("DPS registration with the renewed certificate failed"));
  EDGE_TRY_VOID(certs_.import(p.identity_cert, *pem));
  if (policy.rotate_key) EDGE_TRY_VOID(keys_.move_key_pair(key_id, p.identity_pk));
  device_ = *d;
  info_ = info;
  save_device_backup(info_);
  return {};
}

}  // namespace identityd
