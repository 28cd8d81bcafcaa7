// `config import` and `config mp`: the files they write, and refusals that write nothing.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/cli/cli_support.h"

using namespace edge::test;

namespace {

int file_mode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

const std::string kCs =
    "HostName=example.azure-devices.net;DeviceId=my-device;SharedAccessKey="
    "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGU=";

}  // namespace

TEST_CASE("config mp writes a manual-provisioning super-config that apply accepts", "[cli]") {
  TempDir dir;
  auto r = run_cli("iotedge",
                   "config mp -c " + shell_quote(kCs) + " -o " + shell_quote(dir / "config.toml"));
  INFO(r.output);
  REQUIRE(r.code == 0);
  REQUIRE_THAT(
      r.output,
      Catch::Contains(
          "WARNING: This configuration is not suitable when using IoT Edge as a gateway."));
  REQUIRE(file_mode(dir / "config.toml") == 0600);
  std::string text = read_file(dir / "config.toml");
  REQUIRE_THAT(text, Catch::StartsWith(
                         "auto_reprovisioning_mode = \"OnErrorOnly\"\nprefer_module_identity_cache "
                         "= false\n\n[provisioning]\nsource = \"manual\"\nconnection_string = \""));
  REQUIRE_THAT(text, Catch::Contains(
                         "[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.6\"\n"));

  auto applied = run_cli("iotedge", "config apply -c " + shell_quote(dir / "config.toml") +
                                        " --output-dir " + shell_quote(dir / "out"));
  INFO(applied.output);
  REQUIRE(applied.code == 0);
  REQUIRE(read_file(dir / "out/device-id") == "aziot-identity-service|aziot-ide");
  REQUIRE_THAT(read_file(dir / "out/identityd.toml"), Catch::Contains("hostname = \"my-device\""));
}

TEST_CASE("config mp refuses to overwrite without --force and rejects bad connection strings",
          "[cli]") {
  TempDir dir;
  write_file(dir / "config.toml", "keep me", 0600);
  auto r = run_cli("iotedge",
                   "config mp -c " + shell_quote(kCs) + " -o " + shell_quote(dir / "config.toml"));
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output,
               Catch::Contains("already exists. Azure IoT Edge has already been configured."));
  REQUIRE_THAT(r.output, Catch::Contains("sudo iotedge config mp --force"));
  REQUIRE(read_file(dir / "config.toml") == "keep me");

  auto bad = run_cli("iotedge",
                     "config mp -c 'HostName=h;DeviceId=d' -o " + shell_quote(dir / "new.toml"));
  REQUIRE(bad.code == 1);
  REQUIRE_THAT(bad.output, Catch::Contains("invalid connection string"));
  REQUIRE_FALSE(file_exists(dir / "new.toml"));

  auto forced = run_cli("aziotctl", "config mp -c " + shell_quote(kCs) + " -o " +
                                        shell_quote(dir / "config.toml") + " --force");
  REQUIRE(forced.code == 0);
  REQUIRE(read_file(dir / "config.toml") ==
          "prefer_module_identity_cache = false\n\n[provisioning]\nsource = "
          "\"manual\"\nconnection_string = \"" +
              kCs +
              "\"\n\n[aziot_keys]\n\n[preloaded_keys]\n\n[cert_issuance]\n\n[preloaded_certs]\n\n["
              "tpm]\n");
  REQUIRE(run_cli("iotedge", "config mp -o x").code == 2);  // --connection-string is required
}

TEST_CASE("config import refuses bad YAML, unsupported settings and existing output", "[cli]") {
  TempDir dir;
  auto import = [&](const std::string& yaml, const std::string& extra = "") {
    write_file(dir / "config.yaml", yaml, 0600);
    auto env = fixture_env();
    env["EDGE_CLI_ROOT"] = dir.path();
    return run_cli("iotedge",
                   "config import -c " + shell_quote(dir / "config.yaml") + " -o " +
                       shell_quote(dir / "config.toml") + extra,
                   env);
  };
  auto malformed = import("provisioning:\n  source: 'manual'\n   bad: [\n");
  REQUIRE(malformed.code == 1);
  REQUIRE_THAT(malformed.output, Catch::Contains("could not parse"));
  REQUIRE_THAT(malformed.output, Catch::Contains("line "));
  REQUIRE_FALSE(file_exists(dir / "config.toml"));

  auto external =
      import("provisioning:\n  source: 'external'\n  endpoint: 'http://localhost:9999'\n");
  REQUIRE(external.code == 1);
  REQUIRE_THAT(external.output, Catch::Contains("external provisioning is not supported."));

  auto both = import("provisioning:\n  source: 'manual'\n  device_connection_string: '" + kCs +
                     "'\n  authentication:\n    method: 'x509'\n");
  REQUIRE_THAT(
      both.output,
      Catch::Contains(
          "Only one of provisioning.device_connection_string or provisioning.authentication"));

  auto listen = import(
      "provisioning:\n  source: 'manual'\n  device_connection_string: '" + kCs +
      "'\nlisten:\n  management_uri: 'fd://other.socket'\n  workload_uri: 'fd://iotedge.socket'\n");
  REQUIRE_THAT(listen.output,
               Catch::Contains("unexpected value of listen.management_uri fd://other.socket"));
  REQUIRE_FALSE(file_exists(dir / "config.toml"));

  auto missing = run_cli(
      "iotedge", "config import -c /nonexistent.yaml -o " + shell_quote(dir / "config.toml"));
  REQUIRE_THAT(missing.output,
               Catch::Contains("there is no old config at /nonexistent.yaml available to migrate"));

  // Defaults fill what the old file leaves out: hostname localhost, quickstart CA, agent 1.6.
  auto minimal =
      import("provisioning:\n  source: 'manual'\n  device_connection_string: '" + kCs + "'\n");
  INFO(minimal.output);
  REQUIRE(minimal.code == 0);
  REQUIRE_THAT(minimal.output,
               Catch::Contains("sudo iotedge config apply -c '" + dir / "config.toml" + "'"));
  std::string text = read_file(dir / "config.toml");
  REQUIRE_THAT(text, Catch::Contains("hostname = \"localhost\""));
  REQUIRE_THAT(text, Catch::Contains("[edge_ca]\nauto_generated_edge_ca_expiry_days = 90\n"));
  REQUIRE_THAT(text, Catch::Contains("image = \"mcr.microsoft.com/azureiotedge-agent:1.6\""));
  REQUIRE(file_mode(dir / "config.toml") == 0600);

  auto again =
      import("provisioning:\n  source: 'manual'\n  device_connection_string: '" + kCs + "'\n");
  REQUIRE(again.code == 1);
  REQUIRE_THAT(again.output, Catch::Contains("sudo iotedge config import --force"));
  REQUIRE(import("provisioning:\n  source: 'manual'\n  device_connection_string: '" + kCs + "'\n",
                 " -f")
              .code == 0);
}

TEST_CASE(
    "config import orders createOptions as Docker's create body and picks up the 1.1 master key",
    "[cli]") {
  TempDir dir;
  write_file(dir / "config.yaml",
             "provisioning:\n  source: 'manual'\n  device_connection_string: '" + kCs +
                 "'\n"
                 "agent:\n  name: 'edgeAgent'\n  type: 'docker'\n  config:\n    image: 'img'\n    "
                 "createOptions:\n"
                 "      Zeta: 1\n      HostConfig:\n        PortBindings:\n          '443/tcp':\n  "
                 "          - HostPort: '443'\n"
                 "        Binds:\n          - '/a:/b'\n      Env:\n        - 'A=1'\n",
             0600);
  std::string key_dir = dir / "var/lib/iotedge/hsm/enc_keys";
  run("mkdir -p " + shell_quote(key_dir));
  write_file(key_dir + "/edgelet-masterWt5mT2xpO72EPKlt2Tt0Sq4uJCrMvfl2rzzKRB3pnyo_.enc.key", "k",
             0600);
  auto env = fixture_env();
  env["EDGE_CLI_ROOT"] = dir.path();
  auto r = run_cli("iotedge",
                   "config import -c " + shell_quote(dir / "config.yaml") + " -o " +
                       shell_quote(dir / "config.toml"),
                   env);
  INFO(r.output);
  REQUIRE(r.code == 0);
  std::string text = read_file(dir / "config.toml");
  REQUIRE_THAT(
      text, Catch::Contains("imported_master_encryption_key = \"/var/lib/iotedge/hsm/enc_keys/"));
  REQUIRE_THAT(text,
               Catch::Contains("[agent.config.createOptions]\nEnv = [\"A=1\"]\nZeta = 1\n\n"
                               "[agent.config.createOptions.HostConfig]\nBinds = [\"/a:/b\"]\n\n"
                               "[[agent.config.createOptions.HostConfig.PortBindings.\"443/"
                               "tcp\"]]\nHostPort = \"443\"\n"));
}

TEST_CASE("config import stops on YAML that expands without bound", "[cli]") {
  TempDir dir;
  std::string yaml = "a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    yaml += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ",*" : "*") + prev;
    yaml += "]\n";
  }
  write_file(dir / "config.yaml", yaml, 0600);
  auto r = run_cli("iotedge", "config import -c " + shell_quote(dir / "config.yaml") + " -o " +
                                  shell_quote(dir / "config.toml"));
  INFO(r.output);
  REQUIRE(r.code == 1);
  REQUIRE_THAT(r.output, Catch::Contains("too many nodes"));
  REQUIRE_FALSE(file_exists(dir / "config.toml"));
}
