#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/config.h"
#include "common/fs.h"
#include "tests/support/harness.h"

using namespace edge;

TEST_CASE("config.d drop-ins merge in sorted order", "[unit]") {
  test::TempDir dir;
  test::write_file(dir / "config.toml", "max_requests = 5\n[aziot_keys]\nhomedir_path = \"/a\"\n"
                                        "[[principal]]\nuid = 1\nkeys = [\"a\"]\n");
  fs::ensure_dir(dir / "config.d", 0700).value();
  test::write_file(dir / "config.d/10-b.toml", "[aziot_keys]\nx = \"late\"\n[[principal]]\nuid = 3\nkeys = []\n");
  test::write_file(dir / "config.d/00-a.toml", "max_requests = 7\n[aziot_keys]\nx = \"early\"\n[[principal]]\nuid = 2\nkeys = []\n");
  test::write_file(dir / "config.d/ignored.txt", "garbage = = =");
  auto t = config::load({dir / "config.toml", dir / "config.d"});
  REQUIRE(t);
  CHECK((*t)["max_requests"].value<int64_t>() == 7);
  CHECK((*t)["aziot_keys"]["homedir_path"].value<std::string>() == "/a");
  CHECK((*t)["aziot_keys"]["x"].value<std::string>() == "late");
  auto* principals = (*t)["principal"].as_array();
  REQUIRE(principals);
  REQUIRE(principals->size() == 3);
  CHECK((*principals)[2].as_table()->get("uid")->value<int64_t>() == 3);
}

TEST_CASE("config errors name the file line and key", "[unit]") {
  test::TempDir dir;
  test::write_file(dir / "config.toml", "a = 1\nb = [\n");
  auto t = config::load({dir / "config.toml", dir / "none"});
  REQUIRE_FALSE(t);
  CHECK_THAT(t.error().message, Catch::Contains(dir / "config.toml") && Catch::Contains(":2:"));

  test::write_file(dir / "config.toml", "\nmax_requests = \"ten\"\n");
  t = config::load({dir / "config.toml", dir / "none"});
  REQUIRE(t);
  config::Reader r(*t);
  auto v = r.opt_int("max_requests", 1, 100);
  REQUIRE_FALSE(v);
  CHECK_THAT(v.error().message,
             Catch::Contains("config.toml:2:") && Catch::Contains("max_requests") &&
                 Catch::Contains("expected an integer"));
}

TEST_CASE("a missing base file is an empty config", "[unit]") {
  test::TempDir dir;
  auto t = config::load({dir / "nope.toml", dir / "nope.d"});
  REQUIRE(t);
  CHECK(t->empty());
}

TEST_CASE("atomic writes set the exact mode and replace whole files", "[unit]") {
  test::TempDir dir;
  ::umask(022);
  REQUIRE(fs::write_atomic(dir / "f", "one", 0600));
  REQUIRE(fs::write_atomic(dir / "f", "two", 0640));
  CHECK(test::read_file(dir / "f") == "two");
  struct stat st {};
  ::stat((dir / "f").c_str(), &st);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(test::list_dir(dir.path()) == std::vector<std::string>{"f"});
  CHECK_FALSE(fs::write_atomic(dir / "missing-dir/f", "x", 0600));
}

TEST_CASE("errors in a drop-in name the drop-in file and its line", "[unit]") {
  test::TempDir dir;
  test::write_file(dir / "config.toml", "[aziot_keys]\nhomedir_path = \"/a\"\n[[principal]]\nuid = 1\nkeys = []\n");
  fs::ensure_dir(dir / "config.d", 0700).value();
  test::write_file(dir / "config.d/50-x.toml", "\n\nmax_requests = \"x\"\n[aziot_keys]\n\nextra = 5\n[[principal]]\nuid = \"two\"\n");
  auto t = config::load({dir / "config.toml", dir / "config.d"});
  REQUIRE(t);
  config::Reader top(*t);
  auto v = top.opt_int("max_requests", 1, 100);
  REQUIRE_FALSE(v);
  CHECK_THAT(v.error().message, Catch::Contains("50-x.toml:3:"));
  config::Reader keys(*(*t)["aziot_keys"].as_table(), "aziot_keys");
  auto e = keys.opt_string("extra");
  REQUIRE_FALSE(e);
  CHECK_THAT(e.error().message, Catch::Contains("50-x.toml:6:"));
  auto* principals = (*t)["principal"].as_array();
  REQUIRE(principals->size() == 2);
  config::Reader second(*(*principals)[1].as_table(), "principal");
  auto uid = second.opt_int("uid", 0, 100);
  REQUIRE_FALSE(uid);
  CHECK_THAT(uid.error().message, Catch::Contains("50-x.toml:8:"));
}
