// Helpers for driving the built iotedge / aziotctl binaries from tests.
#pragma once
#include <toml++/toml.h>

#include <map>
#include <string>

#include "tests/support/harness.h"

namespace edge::test {

struct CliResult {
  int code = 0;
  std::string output;  // stdout and stderr together
};

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The fixtures' principals and hostname (upstream's test values).
inline std::map<std::string, std::string> fixture_env() {
  return {{"EDGE_CLI_UID_AZIOTKS", "5554"}, {"EDGE_CLI_UID_AZIOTCS", "5555"},
          {"EDGE_CLI_UID_AZIOTID", "5556"}, {"EDGE_CLI_UID_AZIOTTPM", "5557"},
          {"EDGE_CLI_UID_IOTEDGE", "5558"}, {"EDGE_CLI_HOSTNAME", "my-device"}};
}

inline CliResult run_cli(const std::string& program, const std::string& args,
                         const std::map<std::string, std::string>& env = fixture_env()) {
  std::string cmd = "env";
  for (const auto& [k, v] : env) cmd += " " + k + "=" + shell_quote(v);
  cmd += " " + shell_quote(bin(program)) + " " + args + " 2>&1";
  CliResult r;
  r.code = run(cmd, &r.output);
  return r;
}

inline bool file_exists(const std::string& path) {
  return run("test -e " + shell_quote(path)) == 0;
}

inline std::string conformance_dir() {
  return std::string(EDGE_SOURCE_DIR) + "/../shared/conformance";
}

}  // namespace edge::test
