// The Edge CA: made sure of at start-up (a keyd key pair + a certd cert: preloaded, or issued
// per certd's cert_issuance, e.g. the quickstart self-signed CA) and renewed per
// [edge_ca.auto_renew] (new key through "<key>-temp", cert through "<cert>-temp", then moved
// into place), as upstream. A renewal calls on_renewed so modules can be restarted.
#pragma once
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <mutex>
#include <thread>

#include "common/clients/keyd_client.h"
#include "edged/aziot_clients.h"
#include "edged/workload_config.h"

namespace edged {

// When a certificate valid [not_before, not_after] is due for renewal under `threshold`.
std::time_t renewal_due(std::time_t not_before, std::time_t not_after, const RenewalTime& threshold);
// The retry period after a failed renewal.
long long retry_seconds(std::time_t not_before, std::time_t not_after, const RenewalTime& retry);

class EdgeCa {
 public:
  EdgeCa(EdgeCaSettings settings, std::string device_id, edge::clients::KeydClient& keyd,
         CertdClient& certd);
  ~EdgeCa();

  // check_edge_ca(): key pair "rsa-2048:*" if absent; a cert from certd if certd has none.
  edge::Status ensure();
  // Renews now (regardless of the policy); calls on_renewed after success.
  edge::Status renew();
  // Validity of the current Edge CA certificate.
  edge::Result<std::pair<std::time_t, std::time_t>> validity();

  // Starts the auto-renew thread (no-op without [edge_ca.auto_renew]).
  void start_auto_renew(std::function<void()> on_renewed);
  void stop();

  const EdgeCaSettings& settings() const { return settings_; }
  Subject default_subject() const;

 private:
  void renew_loop();

  EdgeCaSettings settings_;
  std::string device_id_;
  edge::clients::KeydClient& keyd_;
  CertdClient& certd_;
  std::function<void()> on_renewed_;
  std::mutex mutex_;  // one renewal at a time; guards stopping_ for the condition variable
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace edged
