#include "agent/local_source.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <thread>

#include "tests/support/harness.h"

using namespace agent;

namespace {
template <class F>
bool within(double seconds, F f) {
  for (int i = 0; i < seconds * 50; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}
}  // namespace

TEST_CASE("the local manifest is watched and re-read on change", "[unit]") {
  edge::test::TempDir dir;
  std::string path = dir / "config.json";
  std::atomic<int> changes{0};
  LocalSource source(path, [&] { ++changes; });
  auto missing = source.read();
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == 500);

  edge::test::write_file(path, R"({"version": 1, "deploymentConfig": {"schemaVersion": "1.1"}})");
  REQUIRE(within(3, [&] { return changes > 0; }));
  auto first = source.read();
  REQUIRE(first);
  CHECK(first->version == 1);

  // Replaced by a rename (what editors and the tests do).
  int seen = changes;
  edge::test::write_file(dir / "new.json",
                         R"({"version": 2, "deploymentConfig": {"schemaVersion": "1.1"}})");
  REQUIRE(std::rename((dir / "new.json").c_str(), path.c_str()) == 0);
  REQUIRE(within(3, [&] { return changes > seen; }));
  CHECK(source.read()->version == 2);

  // A burst of writes settles into few notifications; other files in the folder are ignored.
  seen = changes;
  for (int i = 0; i < 5; ++i) edge::test::write_file(path, "{broken");
  edge::test::write_file(dir / "unrelated.txt", "x");
  REQUIRE(within(3, [&] { return changes > seen; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(changes - seen <= 2);
  auto broken = source.read();
  REQUIRE_FALSE(broken);
  CHECK(broken.error().code == 400);
}
