#include "identityd/renewal.h"

#include <algorithm>
#include <charconv>

namespace identityd {

edge::Result<RenewPolicy> parse_renew_policy(std::string_view text) {
  constexpr int64_t kMaxSeconds = int64_t{100} * 365 * 86400;  // a century
  auto number = [](std::string_view digits) -> int64_t {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty() ? n : -1;
  };
  const std::string bad =
      "invalid renewal policy \"" + std::string(text) + "\" (expected <1..99>%, <n>min or <n>day)";
  if (text.ends_with("%")) {
    int64_t n = number(text.substr(0, text.size() - 1));
    if (n < 1 || n > 99) return edge::invalid(bad);
    return RenewPolicy{true, n};
  }
  for (auto [suffix, unit] : {std::pair{std::string_view("min"), int64_t{60}},
                              std::pair{std::string_view("day"), int64_t{86400}}}) {
    if (!text.ends_with(suffix)) continue;
    int64_t n = number(text.substr(0, text.size() - suffix.size()));
    if (n < 1 || n > kMaxSeconds / unit) return edge::invalid(bad);
    return RenewPolicy{false, n * unit};
  }
  return edge::invalid(bad);
}

int64_t seconds_until_due(int64_t not_before, int64_t not_after, int64_t now,
                          const RenewPolicy& threshold) {
  if (not_before >= not_after || now >= not_after) return 0;
  int64_t due = threshold.percent ? not_before + (not_after - not_before) * threshold.value / 100
                                  : not_after - threshold.value;
  return due - now;
}

int64_t retry_after(int64_t not_before, int64_t not_after, const RenewPolicy& retry) {
  int64_t lifetime = std::max<int64_t>(0, not_after - not_before);
  int64_t wait = retry.percent ? lifetime * retry.value / 100 : retry.value;
  return std::max<int64_t>(1, wait);
}

RenewalTimer::RenewalTimer(std::function<int64_t()> check) : check_(std::move(check)) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      lock.unlock();
      int64_t wait = std::clamp<int64_t>(check_(), 1, 3600);
      lock.lock();
      cv_.wait_for(lock, std::chrono::seconds(wait), [this] { return stop_; });
    }
  });
}

RenewalTimer::~RenewalTimer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace identityd
