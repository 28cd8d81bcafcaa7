// Upstream's own test data for `config apply` / `config import`, read in place. CTest runs
// one case per test (EDGE_CONFORMANCE_CASE); run by hand without it, every case runs.
#include <dirent.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <vector>

#include "tests/cli/cli_support.h"

using namespace edge::test;

namespace {

toml::table parse_toml_file(const std::string& path) {
  INFO("parsing " << path);
  toml::table t;
  REQUIRE_NOTHROW(t = toml::parse(read_file(path), std::string_view(path)));
  return t;
}

void require_same_toml(const std::string& expected_path, const std::string& actual_path) {
  INFO("expected " << expected_path << "\nactual " << actual_path << ":\n" << read_file(actual_path));
  REQUIRE(file_exists(actual_path));
  auto expected = parse_toml_file(expected_path);
  auto actual = parse_toml_file(actual_path);
  std::ostringstream e, a;
  e << expected;
  a << actual;
  INFO("expected (normalised):\n" << e.str() << "\nactual (normalised):\n" << a.str());
  REQUIRE(expected == actual);
}

void require_same_optional_bytes(const std::string& expected_path, const std::string& actual_path) {
  INFO("secret file " << actual_path);
  REQUIRE(file_exists(expected_path) == file_exists(actual_path));
  if (file_exists(expected_path)) REQUIRE(read_file(expected_path) == read_file(actual_path));
}

// The imported-master-encryption-key case names /tmp/master-encryption-key, as upstream's
// harness does; put the fixture there so apply can read it.
void stage_master_key(const std::string& case_dir) {
  if (file_exists(case_dir + "/master-encryption-key"))
    write_file("/tmp/master-encryption-key", read_file(case_dir + "/master-encryption-key"), 0600);
}

void run_iotedge_case(const std::string& case_dir) {
  TempDir out;
  stage_master_key(case_dir);
  auto r = run_cli("iotedge", "config apply -c " + shell_quote(case_dir + "/super-config.toml") +
                                  " --output-dir " + shell_quote(out.path()));
  INFO(r.output);
  REQUIRE(r.code == 0);
  for (const char* f : {"keyd.toml", "certd.toml", "identityd.toml", "tpmd.toml", "edged.toml"})
    require_same_toml(case_dir + "/" + f, out / f);
  require_same_optional_bytes(case_dir + "/device-id", out / "device-id");
  require_same_optional_bytes(case_dir + "/master-encryption-key", out / "master-encryption-key");

  if (file_exists(case_dir + "/old-config.yaml")) {
    auto env = fixture_env();
    if (file_exists(case_dir + "/master-encryption-key"))
      env["EDGE_CLI_OLD_MASTER_KEY"] = "/tmp/master-encryption-key";
    env["EDGE_CLI_ROOT"] = out.path();  // no real libiothsm key is looked up
    auto imported = run_cli("iotedge", "config import -c " + shell_quote(case_dir + "/old-config.yaml") +
                                           " -o " + shell_quote(out / "imported.toml"), env);
    INFO(imported.output);
    REQUIRE(imported.code == 0);
    // Upstream compares import output byte for byte.
    REQUIRE(read_file(out / "imported.toml") == read_file(case_dir + "/super-config.toml"));
  }
}

void run_aziotctl_case(const std::string& case_dir) {
  TempDir out;
  std::string input = case_dir + "/config.toml";
  if (!file_exists(input)) input = case_dir + "/input.txt";
  auto r = run_cli("aziotctl", "config apply -c " + shell_quote(input) + " --output-dir " + shell_quote(out.path()));
  INFO(r.output);
  REQUIRE(r.code == 0);
  REQUIRE_FALSE(file_exists(out / "edged.toml"));
  for (const char* f : {"keyd.toml", "certd.toml", "identityd.toml", "tpmd.toml"}) {
    require_same_toml(case_dir + "/" + f, out / f);
  }
  require_same_optional_bytes(case_dir + "/device-id", out / "device-id");
}

void run_case(const std::string& suite, const std::string& case_dir) {
  INFO("conformance case " << suite << " " << case_dir);
  if (suite == "aziotctl-apply") {
    run_aziotctl_case(case_dir);
  } else {
    run_iotedge_case(case_dir);
  }
}

std::vector<std::string> case_dirs(const std::string& suite) {
  std::vector<std::string> out;
  for (const auto& name : list_dir(conformance_dir() + "/" + suite)) {
    std::string p = conformance_dir() + "/" + suite + "/" + name;
    if (run("test -d " + shell_quote(p)) == 0) out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("upstream conformance case", "[.][conformance]") {
  const char* one = std::getenv("EDGE_CONFORMANCE_CASE");
  const char* suite = std::getenv("EDGE_CONFORMANCE_SUITE");
  if (one && *one) {
    run_case(suite ? suite : "iotedge-config", one);
    return;
  }
  for (const char* s : {"iotedge-config", "aziotctl-apply"})
    for (const auto& dir : case_dirs(s)) {
      DYNAMIC_SECTION(s << "/" << dir) { run_case(s, dir); }
    }
}

TEST_CASE("conformance data is present and every suite has cases", "[cli]") {
  REQUIRE(case_dirs("iotedge-config").size() >= 10);
  REQUIRE(case_dirs("aziotctl-apply").size() >= 10);
}
