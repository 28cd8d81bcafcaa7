// Upstream's RestartPolicyManager: which runtime status a module has under its restart policy
// and when a crashed module may be started again (cool-off min(unit * 2^n, 300 s), at most
// MaxRestartCount restarts, counts reset after IntensiveCareTime of health).
#pragma once
#include <cstdint>

#include "agent/manifest.h"

namespace agent {

enum class RuntimeStatus { Running, Stopped, Failed, Backoff, Dead, Unknown };

struct RestartSettings {
  int max_restart_count = 20;
  int64_t cool_off_unit_ms = 10'000;
  int64_t intensive_care_ms = 600'000;
  // MaxRestartCount, CoolOffTimeUnitInSeconds, IntensiveCareTimeInMinutes as upstream; the
  // time values may have decimals here (tests shorten them).
  static RestartSettings from_env();
};

constexpr int64_t kMaxCoolOffMs = 300'000;  // upstream's hard-coded cap

int64_t cool_off_ms(int restart_count, const RestartSettings& s);
// Upstream's ComputeModuleStatusFromRestartPolicy: a module that is down and whose policy wants
// it up is in back-off, or failed once it used up its restarts.
RuntimeStatus status_from_policy(RuntimeStatus edged, RestartPolicy policy, int restart_count,
                                 const RestartSettings& s);
// A module in back-off may restart once its cool-off since the last exit has passed (or the
// exit time lies in the future: clock skew).
bool cool_off_over(int restart_count, int64_t exit_ms, int64_t now_ms, const RestartSettings& s);
const char* to_string(RuntimeStatus status);

}  // namespace agent
