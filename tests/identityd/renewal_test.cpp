// Renewal policies and schedule for the device identity certificate (upstream cert-renewal).
#include "identityd/renewal.h"

#include <catch2/catch.hpp>

using namespace identityd;

TEST_CASE("renewal policies parse as upstream", "[unit]") {
  auto pct = parse_renew_policy("80%");
  REQUIRE(pct);
  CHECK(pct->percent);
  CHECK(pct->value == 80);
  CHECK(parse_renew_policy("100min")->value == 6000);
  CHECK_FALSE(parse_renew_policy("100min")->percent);
  CHECK(parse_renew_policy("10day")->value == 864000);
  CHECK(parse_renew_policy("1%"));
  CHECK(parse_renew_policy("99%"));
  for (const char* bad : {"0%", "100%", "101%", "-5%", "1year", "0min", "0day", "", "%", "min",
                          "5 min", "5m", "1.5day", "x%", "99999999999999999999min", "80%%"})
    CHECK_FALSE(parse_renew_policy(bad));
}

TEST_CASE("renewal is due at the threshold", "[unit]") {
  const RenewPolicy eighty{true, 80}, hour{false, 3600};
  // A certificate valid [1000, 2000].
  CHECK(seconds_until_due(1000, 2000, 1000, eighty) == 800);
  CHECK(seconds_until_due(1000, 2000, 1799, eighty) == 1);
  CHECK(seconds_until_due(1000, 2000, 1800, eighty) <= 0);
  CHECK(seconds_until_due(1000, 10000, 5000, hour) == 1400);
  CHECK(seconds_until_due(1000, 10000, 6400, hour) <= 0);
  // Expired or invalid certificates are always due.
  CHECK(seconds_until_due(1000, 2000, 2000, eighty) <= 0);
  CHECK(seconds_until_due(2000, 1000, 1500, hour) <= 0);
  CHECK(seconds_until_due(1000, 1000, 500, eighty) <= 0);
  // Retries: a share of the lifetime or a fixed time, at least a second.
  CHECK(retry_after(1000, 2000, RenewPolicy{true, 4}) == 40);
  CHECK(retry_after(1000, 1010, RenewPolicy{true, 4}) == 1);
  CHECK(retry_after(1000, 2000, RenewPolicy{false, 60}) == 60);
}
