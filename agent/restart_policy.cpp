#include "agent/restart_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace agent {

namespace {
// A positive number from the environment, or `fallback` when unset or not a number.
double env_number(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(d) || d < 0) return fallback;
  return d;
}
}  // namespace

RestartSettings RestartSettings::from_env() {
  RestartSettings s;
  s.max_restart_count = static_cast<int>(std::min(env_number("MaxRestartCount", 20), 1e6));
  s.cool_off_unit_ms =
      static_cast<int64_t>(std::min(env_number("CoolOffTimeUnitInSeconds", 10), 1e6) * 1000);
  s.intensive_care_ms =
      static_cast<int64_t>(std::min(env_number("IntensiveCareTimeInMinutes", 10), 1e6) * 60'000);
  return s;
}

int64_t cool_off_ms(int n, const RestartSettings& s) {
  int64_t v = s.cool_off_unit_ms;
  for (int i = 0; i < n && v < kMaxCoolOffMs; ++i) v *= 2;
  return std::min(v, kMaxCoolOffMs);
}

RuntimeStatus status_from_policy(RuntimeStatus edged, RestartPolicy policy, int count,
                                 const RestartSettings& s) {
  if (edged == RuntimeStatus::Dead) return RuntimeStatus::Dead;
  // on-failure and on-unhealthy act alike: edged never reports unhealthy.
  bool failed = edged == RuntimeStatus::Failed;
  if (edged != RuntimeStatus::Running && policy != RestartPolicy::Never &&
      (policy == RestartPolicy::Always || failed))
    return count >= s.max_restart_count ? RuntimeStatus::Failed : RuntimeStatus::Backoff;
  return edged;
}

bool cool_off_over(int count, int64_t exit_ms, int64_t now_ms, const RestartSettings& s) {
  int64_t elapsed = now_ms - exit_ms;
  return elapsed <= 0 || elapsed > cool_off_ms(count, s);
}

const char* to_string(RuntimeStatus s) {
  switch (s) {
    case RuntimeStatus::Running:
      return "running";
    case RuntimeStatus::Stopped:
      return "stopped";
    case RuntimeStatus::Failed:
      return "failed";
    case RuntimeStatus::Backoff:
      return "backoff";
    case RuntimeStatus::Dead:
      return "dead";
    case RuntimeStatus::Unknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace agent
