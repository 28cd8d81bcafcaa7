#include "edged/edge_ca.h"

#include <openssl/pem.h>

#include <algorithm>

#include "common/crypto.h"
#include "common/log.h"
#include "edged/csr.h"

namespace edged {
namespace {
constexpr const char* kAlgorithms = "rsa-2048:*";
constexpr long long kMaxSleepSeconds = 3600;  // re-read the cert at least hourly

edge::Result<std::pair<std::time_t, std::time_t>> leaf_validity(const std::string& pem) {
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  edge::crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return edge::internal("the Edge CA certificate does not parse");
  std::tm a{}, b{};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert.get()), &a) != 1 ||
      ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &b) != 1)
    return edge::internal("the Edge CA certificate has unreadable dates");
  return std::pair{timegm(&a), timegm(&b)};
}

edge::Result<Subject> leaf_subject(const std::string& pem) {
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  edge::crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return edge::internal("the Edge CA certificate does not parse");
  Subject out;
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (int i = 0; i < X509_NAME_entry_count(name); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    const char* field = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (n < 0 || !field) return edge::internal("the Edge CA subject does not parse");
    out.emplace_back(field, std::string(reinterpret_cast<char*>(utf8), static_cast<size_t>(n)));
    OPENSSL_free(utf8);
  }
  return out;
}
}  // namespace

std::time_t renewal_due(std::time_t not_before, std::time_t not_after, const RenewalTime& threshold) {
  if (not_before >= not_after) return not_before;  // invalid: renew now
  if (threshold.percent > 0)
    return not_before + static_cast<std::time_t>((static_cast<long long>(not_after - not_before) *
                                                   threshold.percent) / 100);
  return not_after - static_cast<std::time_t>(threshold.seconds);
}

long long retry_seconds(std::time_t not_before, std::time_t not_after, const RenewalTime& retry) {
  long long lifetime = std::max<long long>(1, not_after - not_before);
  long long s = retry.percent > 0 ? lifetime * retry.percent / 100 : retry.seconds;
  return std::clamp<long long>(s, 1, kMaxSleepSeconds);
}

EdgeCa::EdgeCa(EdgeCaSettings settings, std::string device_id, edge::clients::KeydClient& keyd,
               CertdClient& certd)
    : settings_(std::move(settings)), device_id_(std::move(device_id)), keyd_(keyd), certd_(certd) {}

EdgeCa::~EdgeCa() { stop(); }

Subject EdgeCa::default_subject() const {
  if (!settings_.subject.empty()) return settings_.subject;
  return {{"CN", "aziot-edge CA " + device_id_}};
}

edge::Status EdgeCa::ensure() {
  auto handle = keyd_.create_key_pair_if_not_exists(settings_.key_id, kAlgorithms);
  if (!handle) return std::unexpected(handle.error().context("could not get the Edge CA key pair"));
  if (certd_.get(settings_.cert_id)) {
    edge::log::info("Using existing Edge CA certificate");
    return {};
  }
  edge::log::info("Requesting new Edge CA certificate...");
  auto csr = edge_ca_csr(default_subject(), keyd_, *handle);
  if (!csr) return std::unexpected(csr.error().context("failed to generate edge ca csr"));
  auto cert = certd_.create(settings_.cert_id, *csr, std::nullopt);
  if (!cert) return std::unexpected(cert.error().context("failed to create edge ca cert"));
  edge::log::info("Created new Edge CA certificate");
  return {};
}

edge::Result<std::pair<std::time_t, std::time_t>> EdgeCa::validity() {
  return leaf_validity(EDGE_TRY(certd_.get(settings_.cert_id)));
}

edge::Status EdgeCa::renew() {
  {
    std::lock_guard lock(mutex_);
    const auto& s = settings_;
    bool rotate = s.auto_renew ? s.auto_renew->rotate_key : true;
    std::string old_chain = EDGE_TRY(certd_.get(s.cert_id));
    Subject subject = EDGE_TRY(leaf_subject(old_chain));
    std::string key_id = s.key_id;
    std::string handle;
    if (rotate) {
      key_id = s.key_id + "-temp";
      if (auto stale = keyd_.load_key_pair(key_id)) EDGE_TRY_VOID(keyd_.delete_key_pair(*stale));
      handle = EDGE_TRY(keyd_.create_key_pair_if_not_exists(key_id, kAlgorithms));
    } else {
      handle = EDGE_TRY(keyd_.load_key_pair(key_id));
    }
    std::string csr = EDGE_TRY(edge_ca_csr(subject, keyd_, handle));
    std::string temp_cert = s.cert_id + "-temp";
    std::string new_chain = EDGE_TRY(certd_.create(temp_cert, csr, std::nullopt));
    if (auto r = certd_.remove(temp_cert); !r)
      edge::log::warn("Failed to delete temporary certificate created by cert renewal: " + r.error().message);
    EDGE_TRY_VOID(certd_.import(s.cert_id, new_chain));
    if (rotate) {
      if (auto moved = keyd_.move_key_pair(s.key_id, key_id); !moved) {
        // The new cert is useless without its key: put the old one back.
        (void)certd_.import(s.cert_id, old_chain);
        return std::unexpected(moved.error().context("could not move the renewed Edge CA key"));
      }
    }
    edge::log::info("Edge CA was renewed");
  }
  if (on_renewed_) on_renewed_();
  return {};
}

void EdgeCa::start_auto_renew(std::function<void()> on_renewed) {
  on_renewed_ = std::move(on_renewed);
  if (!settings_.auto_renew) {
    edge::log::warn("Auto renewal of the Edge CA is not configured. Edge CA will not be automatically renewed");
    return;
  }
  thread_ = std::thread([this] { renew_loop(); });
}

void EdgeCa::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EdgeCa::renew_loop() {
  const AutoRenew& policy = *settings_.auto_renew;
  for (;;) {
    long long sleep = kMaxSleepSeconds;
    if (auto v = validity()) {
      auto [not_before, not_after] = *v;
      std::time_t now = std::time(nullptr);
      std::time_t due = renewal_due(not_before, not_after, policy.threshold);
      if (now >= due) {
        // After a renewal too: a policy that is due at once must not renew in a loop.
        if (auto r = renew(); !r) edge::log::error("Failed to renew the Edge CA: " + r.error().message);
        sleep = retry_seconds(not_before, not_after, policy.retry);
      } else {
        sleep = std::min<long long>(kMaxSleepSeconds, due - now);
      }
    } else {
      edge::log::error("Failed to read the Edge CA for renewal: " + v.error().message);
      sleep = 60;
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, std::chrono::seconds(std::max<long long>(1, sleep)), [this] { return stopping_; }))
      return;
  }
}

}  // namespace edged
