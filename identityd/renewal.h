// Auto-renewal of the device identity certificate ([provisioning.attestation]
// identity_auto_renew, DPS X.509): upstream's cert-renewal policies and a timer thread.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>

#include "common/result.h"

namespace identityd {

// "<1..99>%" of the certificate's lifetime, "<n>min" or "<n>day" (n > 0), as upstream.
struct RenewPolicy {
  bool percent = true;
  int64_t value = 80;  // percent, or seconds before expiry
};
edge::Result<RenewPolicy> parse_renew_policy(std::string_view text);

// Seconds from `now` until a certificate valid [not_before, not_after] is due for renewal under
// `threshold`; <= 0 means now (an invalid or expired certificate is always due).
int64_t seconds_until_due(int64_t not_before, int64_t not_after, int64_t now,
                          const RenewPolicy& threshold);
// How long to wait before retrying a failed renewal (at least 1 s).
int64_t retry_after(int64_t not_before, int64_t not_after, const RenewPolicy& retry);

// Calls `check` on its own thread, then again after the seconds it returns (capped at an
// hour, so config changes are noticed), until destroyed.
class RenewalTimer {
 public:
  explicit RenewalTimer(std::function<int64_t()> check);
  ~RenewalTimer();

 private:
  std::function<int64_t()> check_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace identityd
