#include "agent/rollback.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/support/harness.h"

using namespace agent;

namespace {
DesiredDocument doc(int64_t version, const std::string& image) {
  return DesiredDocument{Json{{"schemaVersion", "1.1"}, {"modules", {{"m", {{"image", image}}}}}},
                         version};
}
}  // namespace

TEST_CASE("a deployment becomes the last good one after its stable period", "[unit]") {
  edge::test::TempDir dir;
  PlainFileStore store(dir / "last-good.json");
  RollbackGuard guard(store, {10'000, 1'000});
  CHECK_FALSE(guard.last_good());
  using V = RollbackGuard::Verdict;
  CHECK(guard.observe(doc(1, "a:1"), false, 1000) == V::Pending);
  CHECK(guard.observe(doc(1, "a:1"), true, 2000) == V::Pending);
  CHECK(guard.next_check_ms() == 3000);
  CHECK(guard.observe(doc(1, "a:1"), true, 3000) == V::Good);
  REQUIRE(guard.last_good());
  CHECK(guard.last_good()->version == 1);
  struct stat st {};
  REQUIRE(::stat((dir / "last-good.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // Read back by the next agent.
  RollbackGuard again(store, {10'000, 1'000});
  REQUIRE(again.last_good());
  CHECK(again.last_good()->desired["modules"]["m"]["image"] == "a:1");
}

TEST_CASE("an unhealthy deployment is rolled back after the deadline", "[unit]") {
  edge::test::TempDir dir;
  PlainFileStore store(dir / "last-good.json");
  RollbackGuard guard(store, {10'000, 1'000});
  using V = RollbackGuard::Verdict;
  guard.observe(doc(1, "a:1"), true, 0);
  REQUIRE(guard.observe(doc(1, "a:1"), true, 1000) == V::Good);
  CHECK(guard.observe(doc(2, "a:2"), false, 5000) == V::Pending);
  CHECK(guard.next_check_ms() == 15000);
  CHECK(guard.observe(doc(2, "a:2"), true, 9000) == V::Pending);   // flickers up...
  CHECK(guard.observe(doc(2, "a:2"), false, 9500) == V::Pending);  // ...and down again
  CHECK(guard.observe(doc(2, "a:2"), false, 15000) == V::RollBack);
  CHECK(guard.last_good()->version == 1);
  // Converging at the deadline: it gets its stable window.
  CHECK(guard.observe(doc(3, "a:3"), true, 20000) == V::Pending);
  CHECK(guard.observe(doc(3, "a:3"), true, 30000) == V::Good);
  // With the deadline 0 nothing is ever rolled back.
  RollbackGuard never(store, {0, 1'000});
  CHECK(never.observe(doc(4, "a:4"), false, 0) == V::Pending);
  CHECK(never.observe(doc(4, "a:4"), false, 100'000'000) == V::Pending);
}

TEST_CASE("a corrupt stored deployment is ignored", "[unit]") {
  edge::test::TempDir dir;
  edge::test::write_file(dir / "last-good.json", "{\"version\": 1, \"deploymentConfig\": {tru",
                         0600);
  PlainFileStore store(dir / "last-good.json");
  RollbackGuard guard(store, {10'000, 1'000});
  CHECK_FALSE(guard.last_good());
}
