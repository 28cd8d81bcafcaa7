#include <catch2/catch.hpp>

#include "cli/modules.h"

using namespace edge::cli;

TEST_CASE("module states are described as upstream's iotedge list does", "[unit]") {
  long long now = 1704067200;  // 2024-01-01T00:00:00Z
  CHECK(describe_status("running", "2023-12-31T23:55:00Z", "", "", now) == "Up 5 minutes");
  CHECK(describe_status("running", "2023-12-31T23:59:55.123Z", "", "", now) == "Up 5 seconds");
  CHECK(describe_status("running", "", "", "", now) == "Up");
  CHECK(describe_status("stopped", "", "2023-12-31T21:00:00Z", "0", now) == "Stopped 3 hours ago");
  CHECK(describe_status("failed", "", "2023-12-31T00:00:00Z", "1", now) == "Failed (1) a day ago");
  CHECK(describe_status("failed", "", "", "", now) == "Failed");
  CHECK(describe_status("unknown", "", "", "", now) == "Unknown");
  CHECK(humanize(1, false) == "1 second");
  CHECK(humanize(30, true) == "seconds ago");
  CHECK(humanize(60, false) == "a minute");
  CHECK(humanize(3 * 86400, true) == "3 days ago");
}
