// Bad super-configs: every one is refused with an error a user can act on, and nothing is
// written. Softer problems (hostname style, files missing on a preview) are warnings.
#include <catch2/catch.hpp>

#include "tests/cli/cli_support.h"

using namespace edge::test;

namespace {

const std::string kProvisioning = R"(
[provisioning]
source = "manual"
connection_string = "HostName=example.azure-devices.net;DeviceId=my-device;SharedAccessKey=YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGU="
)";

struct Applied {
  CliResult result;
  bool wrote_anything;
};

Applied apply_config(const std::string& config, const std::string& program = "iotedge") {
  TempDir dir;
  write_file(dir / "config.toml", config, 0600);
  auto r = run_cli(program, "config apply -c " + shell_quote(dir / "config.toml") +
                                " --output-dir " + shell_quote(dir / "out"));
  return {r, file_exists(dir / "out")};
}

void require_refused(const Applied& a, const std::string& message_part) {
  INFO(a.result.output);
  REQUIRE(a.result.code == 1);
  REQUIRE_THAT(a.result.output, Catch::Contains(message_part));
  REQUIRE_FALSE(a.wrote_anything);
}

}  // namespace

TEST_CASE("a TOML syntax error names the file, line and column and writes nothing", "[cli]") {
  auto a = apply_config("hostname = \"edge\"\n[provisioning\nsource = \"manual\"\n");
  require_refused(a, "config.toml:2:");
  REQUIRE_THAT(a.result.output, Catch::Contains("could not parse"));
}

TEST_CASE("a value of the wrong type is refused with its key path and line", "[cli]") {
  auto a = apply_config("hostname = 42\n" + kProvisioning);
  require_refused(a, "key \"hostname\": expected a string, found an integer");
  REQUIRE_THAT(a.result.output, Catch::Contains("config.toml:1:"));

  require_refused(
      apply_config(
          kProvisioning +
          "\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = 7\n"),
      "key \"agent.config.image\": expected a string");
  require_refused(apply_config(kProvisioning + "\n[watchdog]\nmax_retries = \"forever\"\n"),
                  "max_retries");
  require_refused(apply_config("auto_reprovisioning_mode = \"Sometimes\"\n" + kProvisioning),
                  "unknown value \"Sometimes\"; expected one of \"Dynamic\", \"AlwaysOnStartup\", "
                  "\"OnErrorOnly\"");
}

TEST_CASE("an unknown provisioning source is refused", "[cli]") {
  require_refused(
      apply_config("[provisioning]\nsource = \"cloud\"\n"),
      "unknown provisioning source \"cloud\"; expected one of \"manual\", \"dps\", \"none\"");
  require_refused(apply_config("hostname = \"x\"\n"),
                  "key \"provisioning\": missing required table");
  require_refused(
      apply_config("[provisioning]\nsource = \"dps\"\nglobal_endpoint = "
                   "\"https://global.azure-devices-provisioning.net/\"\nscope_id = \"0ab\"\n"),
      "named `id_scope`");
}

TEST_CASE("top-level keys written below a [section] header are caught", "[cli]") {
  // Seed 001: hostname and trust_bundle_cert must come before any section.
  auto a = apply_config(kProvisioning +
                        "\n[edge_ca]\ncert = \"file:///var/aziot/certs/ca.pem\"\npk = "
                        "\"file:///var/aziot/secrets/ca.key.pem\"\n"
                        "hostname = \"10.0.0.4\"\n");
  require_refused(a, "`hostname` is a top-level setting but it is inside [edge_ca]");
  REQUIRE_THAT(a.result.output, Catch::Contains("config.toml:9:"));
  REQUIRE_THAT(a.result.output, Catch::Contains("above the first [section] header"));

  require_refused(
      apply_config(kProvisioning + "trust_bundle_cert = \"file:///var/aziot/certs/root.pem\"\n"),
      "`trust_bundle_cert` is a top-level setting but it is inside [provisioning]");
  require_refused(
      apply_config(kProvisioning +
                   "\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\nparent_hostname = "
                   "\"10.0.0.4\"\n[agent.config]\nimage = \"x\"\n"),
      "`parent_hostname` is a top-level setting but it is inside [agent]");
}

TEST_CASE("keys misplaced into free-form tables warn without failing", "[cli]") {
  auto a = apply_config(kProvisioning +
                        "\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage "
                        "= \"x\"\n[agent.env]\nhostname = \"edge\"\n");
  INFO(a.result.output);
  REQUIRE(a.result.code == 0);
  REQUIRE_THAT(a.result.output, Catch::Contains("agent.env.hostname"));
}

TEST_CASE("hostname rules: long or non-RFC-1035 hostnames warn, as upstream's check does",
          "[cli]") {
  auto long_name = apply_config("hostname = \"" + std::string(40, 'a') + "." +
                                std::string(30, 'b') + "\"\n" + kProvisioning);
  INFO(long_name.result.output);
  REQUIRE(long_name.result.code == 0);
  REQUIRE_THAT(long_name.result.output,
               Catch::Contains("too long to be used as a certificate issuer"));

  auto underscore = apply_config("hostname = \"my_device\"\n" + kProvisioning);
  REQUIRE(underscore.result.code == 0);
  REQUIRE_THAT(underscore.result.output, Catch::Contains("does not comply with RFC 1035"));

  auto ip = apply_config("hostname = \"10.0.0.4\"\n" + kProvisioning);
  REQUIRE(ip.result.code == 0);
  REQUIRE_THAT(ip.result.output, !Catch::Contains("Warning"));
}

TEST_CASE("parent_hostname rules: too long is an error, DPS is not allowed when nested", "[cli]") {
  require_refused(apply_config("parent_hostname = \"" + std::string(30, 'a') + "." +
                               std::string(40, 'b') + "\"\n" + kProvisioning),
                  "is too long to be used as a certificate issuer");
  auto bad = apply_config("parent_hostname = \"parent_1\"\n" + kProvisioning);
  REQUIRE(bad.result.code == 0);
  REQUIRE_THAT(bad.result.output,
               Catch::Contains("parent_hostname parent_1 which does not comply with RFC 1035"));
  require_refused(
      apply_config("parent_hostname = \"10.0.0.4\"\n[provisioning]\nsource = "
                   "\"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net/\"\n"
                   "id_scope = \"0ab\"\n[provisioning.attestation]\nmethod = "
                   "\"tpm\"\nregistration_id = \"r\"\n"),
      "DPS provisioning is not supported in nested mode");
}

TEST_CASE("bad keys, URLs and renewal policies are refused", "[cli]") {
  require_refused(
      apply_config(
          "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;DeviceId=d\"\n"),
      "required parameter \"SharedAccessKey\" is missing");
  require_refused(apply_config("[provisioning]\nsource = \"manual\"\nconnection_string = "
                               "\"HostName=h;DeviceId=d;SharedAccessKey=%%%\"\n"),
                  "could not be decoded from base64");
  require_refused(
      apply_config(
          "[provisioning]\nsource = \"manual\"\niothub_hostname = \"h\"\ndevice_id = \"d\"\n"
          "[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = { value = \"not "
          "base64!\" }\n"),
      "key \"provisioning.authentication.device_id_pk.value\": could not be decoded from base64");
  require_refused(apply_config("trust_bundle_cert = \"/var/secrets/root.pem\"\n" + kProvisioning),
                  "invalid URL \"/var/secrets/root.pem\": relative URL without a base");
  require_refused(
      apply_config(kProvisioning + "[preloaded_keys]\nk = \"http://example.org/key\"\n"),
      "unrecognized scheme");
  require_refused(
      apply_config(
          kProvisioning +
          "[edge_ca]\nauto_generated_edge_ca_expiry_days = 30\n[edge_ca.auto_renew]\nrotate_key = "
          "true\nthreshold = \"100%\"\nretry = \"4%\"\n"),
      "lifetime percentage must be less than 100");
  require_refused(
      apply_config(kProvisioning + "[edge_ca]\nmethod = \"self_signed\"\nexpiry_days = 0\n"),
      "expiry_days must be greater than 0");
  require_refused(
      apply_config(kProvisioning + "[edge_ca]\nmethod = \"magic\"\n"),
      "unknown value \"magic\"; expected one of \"est\", \"local_ca\", \"self_signed\"");
  require_refused(apply_config(kProvisioning + "[edge_ca]\ncert = \"file:///a.pem\"\n"),
                  "key \"edge_ca.pk\": missing required key");
  require_refused(apply_config("cloud_timeout_sec = 10\n" + kProvisioning),
                  "cloud_timeout_sec must be at least 70 seconds");
  require_refused(apply_config(kProvisioning + "[aziot_max_requests]\nkeyd = 1\n"),
                  "missing required key");
}

TEST_CASE("an oversized or unreadable config file is refused", "[cli]") {
  require_refused(apply_config(std::string(2 * 1024 * 1024, '#')), "could not read config file");
  auto missing = run_cli(
      "iotedge", "config apply -c /nonexistent/config.toml --output-dir /tmp/never-written");
  REQUIRE(missing.code == 1);
  REQUIRE_THAT(missing.output,
               Catch::Contains("could not read config file /nonexistent/config.toml"));
  REQUIRE_FALSE(file_exists("/tmp/never-written"));
}

TEST_CASE("referenced files that do not exist only warn in a preview", "[cli]") {
  auto a = apply_config("trust_bundle_cert = \"file:///nonexistent/root.pem\"\n" + kProvisioning);
  INFO(a.result.output);
  REQUIRE(a.result.code == 0);
  REQUIRE_THAT(a.result.output,
               Catch::Contains("Warning: file /nonexistent/root.pem (trust_bundle_cert"));
}

TEST_CASE("aziotctl refuses the same bad input and ignores iotedge-only keys with a warning",
          "[cli]") {
  require_refused(apply_config("[provisioning]\nsource = \"x\"\n", "aziotctl"),
                  "unknown provisioning source");
  auto a = apply_config("[agent]\nname = \"edgeAgent\"\n" + kProvisioning, "aziotctl");
  INFO(a.result.output);
  REQUIRE(a.result.code == 0);
  REQUIRE_THAT(a.result.output, Catch::Contains("unknown key \"agent\""));
}

TEST_CASE("unknown command-line arguments are usage errors", "[cli]") {
  REQUIRE(run_cli("iotedge", "config apply --bogus").code == 2);
  REQUIRE(run_cli("iotedge", "config frobnicate").code == 2);
  REQUIRE(run_cli("aziotctl", "config import").code == 2);
  auto v = run_cli("iotedge", "version");
  REQUIRE(v.code == 0);
  REQUIRE_THAT(v.output, Catch::StartsWith("iotedge 1.5"));
}

TEST_CASE("YAML-style `key: value` lines get a hint", "[cli]") {
  // Seed 001 shows `image: "..."` under [agent.config]; TOML needs `=`.
  auto a = apply_config(kProvisioning +
                        "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage: "
                        "\"mcr.microsoft.com/azureiotedge-agent:1.5\"\n");
  require_refused(a, "config.toml:9:");
  REQUIRE_THAT(a.result.output, Catch::Contains("`key: value` is YAML syntax"));
}

TEST_CASE("issuance settings certd could not act on are warned about", "[cli]") {
  auto local = apply_config(kProvisioning + "[edge_ca]\nmethod = \"local_ca\"\n");
  INFO(local.result.output);
  REQUIRE(local.result.code == 0);
  REQUIRE_THAT(
      local.result.output,
      Catch::Contains(
          "edge_ca uses method = \"local_ca\" but [cert_issuance.local_ca] is not configured"));
  auto est = apply_config(kProvisioning + "[edge_ca]\nmethod = \"est\"\n");
  REQUIRE_THAT(est.result.output, Catch::Contains("no EST URL is set"));
  REQUIRE_THAT(est.result.output, Catch::Contains("no EST authentication is set"));
}

TEST_CASE("an unquoted text value gets a hint", "[cli]") {
  // The template shows `auto_reprovisioning_mode = Dynamic`; TOML needs quotes.
  auto a = apply_config("auto_reprovisioning_mode = Dynamic\n" + kProvisioning);
  require_refused(a, "config.toml:1:");
  REQUIRE_THAT(a.result.output, Catch::Contains("text values must be quoted"));
}

TEST_CASE("--help describes the subcommand asked about", "[cli]") {
  auto apply_help = run_cli("iotedge", "config apply --help");
  REQUIRE(apply_help.code == 0);
  REQUIRE_THAT(
      apply_help.output,
      Catch::StartsWith("Usage: iotedge config apply [-c|--config-file FILE] [--output-dir DIR]"));
  REQUIRE_THAT(run_cli("aziotctl", "system -h").output,
               Catch::StartsWith("Usage: aziotctl system <"));
  REQUIRE_THAT(run_cli("iotedge", "--help").output, Catch::Contains("Commands:"));
}
