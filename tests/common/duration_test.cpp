#include <catch2/catch.hpp>

#include "common/duration.h"

TEST_CASE("durations in upstream's humantime syntax", "[unit]") {
  CHECK(edge::parse_duration("1d") == 86400);
  CHECK(edge::parse_duration("7days") == 7 * 86400);
  CHECK(edge::parse_duration("12h 30m") == 12 * 3600 + 30 * 60);
  CHECK(edge::parse_duration("1 week") == 604800);
  CHECK(edge::parse_duration("2M") == 2 * 2630016);
  CHECK(edge::parse_duration("1y 1s") == 31557601);
}

TEST_CASE("bad durations are refused with the text named", "[unit]") {
  for (const char* text : {"", " ", "d", "10", "5 parsecs", "1d x", "-1d", "1.5h", "9999999999999s"}) {
    auto r = edge::parse_duration(text);
    INFO(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == edge::ErrorKind::InvalidParameter);
    CHECK_THAT(r.error().message, Catch::Contains(std::string("\"") + text + "\""));
  }
  auto huge = edge::parse_duration("999999999999y");
  REQUIRE_FALSE(huge);
  CHECK_THAT(huge.error().message, Catch::Contains("too large"));
}
