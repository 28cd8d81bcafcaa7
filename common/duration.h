// Durations in upstream's config syntax (Rust humantime): "<n><unit>" groups separated by
// optional spaces, e.g. "1d", "7days", "12h 30m". Units: s/sec/secs/second(s), m/min(s)/minute(s),
// h/hr(s)/hour(s), d/day(s), w/week(s), M/month(s) (30.44 days), y/year(s) (365.25 days).
#pragma once
#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace edge {

// Seconds; InvalidParameter for empty text, a missing number or unit, an unknown unit or overflow.
Result<int64_t> parse_duration(std::string_view text);

}  // namespace edge
