// The configurations the user documents (shared/seeds) walk users through, applied as a preview.
#include <catch2/catch.hpp>

#include "tests/cli/cli_support.h"

using namespace edge::test;

namespace {

toml::table applied(const std::string& config, const std::string& file) {
  TempDir dir;
  write_file(dir / "config.toml", config, 0600);
  auto r = run_cli("iotedge", "config apply -c " + shell_quote(dir / "config.toml") +
                                  " --output-dir " + shell_quote(dir / "out"));
  INFO(r.output);
  REQUIRE(r.code == 0);
  return toml::parse(read_file(dir / "out" + "/" + file));
}

const std::string kProvisioning =
    "[provisioning]\nsource = \"manual\"\nconnection_string = "
    "\"HostName=hub.azure-devices.net;DeviceId=child;"
    "SharedAccessKey=YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGU=\"\n";

}  // namespace

TEST_CASE("seed 001: a parent with hostname, trust bundle and its own Edge CA", "[cli]") {
  std::string config =
      "hostname = \"10.0.0.4\"\ntrust_bundle_cert = "
      "\"file:///var/aziot/certs/azure-iot-test-only.root.ca.cert.pem\"\n" +
      kProvisioning +
      "[edge_ca]\ncert = "
      "\"file:///var/aziot/certs/iot-edge-device-ca-gateway-full-chain.cert.pem\"\n"
      "pk = \"file:///var/aziot/secrets/iot-edge-device-ca-gateway.key.pem\"\n"
      "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = "
      "\"mcr.microsoft.com/azureiotedge-agent:1.5\"\n";
  auto edged = applied(config, "edged.toml");
  REQUIRE(edged["hostname"].value_or(std::string()) == "10.0.0.4");
  REQUIRE(edged["edge_ca"]["cert"].value_or(std::string()) == "aziot-edged-ca");
  REQUIRE(edged["agent"]["config"]["image"].value_or(std::string()) ==
          "mcr.microsoft.com/azureiotedge-agent:1.5");
  auto certd = applied(config, "certd.toml");
  REQUIRE(certd["preloaded_certs"]["trust-bundle-user"].value_or(std::string()) ==
          "file:///var/aziot/certs/azure-iot-test-only.root.ca.cert.pem");
}

TEST_CASE("seed 001: a child points at its parent and pulls the agent through it", "[cli]") {
  std::string config = "parent_hostname = \"10.0.0.4\"\n" + kProvisioning +
                       "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = "
                       "\"10.0.0.4:443/azureiotedge-agent:1.5\"\n";
  auto identityd = applied(config, "identityd.toml");
  REQUIRE(identityd["provisioning"]["local_gateway_hostname"].value_or(std::string()) ==
          "10.0.0.4");
  auto edged = applied(config, "edged.toml");
  REQUIRE(edged["agent"]["config"]["image"].value_or(std::string()) ==
          "10.0.0.4:443/azureiotedge-agent:1.5");
}

TEST_CASE("seed 004: https_proxy and UpstreamProtocol reach the agent's environment", "[cli]") {
  std::string config = kProvisioning +
                       "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\n"
                       "image = \"mcr.microsoft.com/azureiotedge-agent:1.5\"\n\n[agent.env]\n"
                       "# \"RuntimeLogLevel\" = \"debug\"\n\"UpstreamProtocol\" = "
                       "\"AmqpWs\"\n\"https_proxy\" = \"http://proxy:3128\"\n";
  auto edged = applied(config, "edged.toml");
  REQUIRE(edged["agent"]["env"]["https_proxy"].value_or(std::string()) == "http://proxy:3128");
  REQUIRE(edged["agent"]["env"]["UpstreamProtocol"].value_or(std::string()) == "AmqpWs");
}

TEST_CASE("every key of the super-config template is understood", "[cli]") {
  // The template's sections, uncommented in one valid combination each.
  std::string common =
      "hostname = \"my-device\"\ntrust_bundle_cert = \"file:///var/secrets/trust-bundle.pem\"\n"
      "allow_elevated_docker_permissions = false\nprefer_module_identity_cache = false\n"
      "auto_reprovisioning_mode = \"Dynamic\"\ncloud_timeout_sec = 70\ncloud_retries = 1\n";
  std::string rest =
      "[cert_issuance.est]\ntrusted_certs = [\n    \"file:///var/secrets/est-id-ca.pem\",\n]\n"
      "[cert_issuance.est.auth]\nusername = \"estuser\"\npassword = \"estpwd\"\n"
      "bootstrap_identity_cert = \"file:///var/secrets/est-bootstrap-id.pem\"\n"
      "bootstrap_identity_pk = \"pkcs11:slot-id=0;object=est-bootstrap-id?pin-value=1234\"\n"
      "[cert_issuance.est.identity_auto_renew]\nrotate_key = true\nthreshold = \"80%\"\nretry = "
      "\"4%\"\n"
      "[cert_issuance.est.urls]\ndefault = \"https://example.org/.well-known/est\"\n"
      "[cert_issuance.local_ca]\ncert = \"file:///var/secrets/local-ca.pem\"\npk = "
      "\"file:///var/secrets/local-ca.key.pem\"\n"
      "[tpm]\ntcti = \"swtpm:port=2321\"\nauth_key_index = \"0x00_01_00\"\n"
      "[tpm.hierarchy_authorization]\nendorsement = \"hello\"\nowner = \"world\"\n"
      "[aziot_keys]\npkcs11_lib_path = \"/usr/lib/libmypkcs11.so\"\npkcs11_base_slot = "
      "\"pkcs11:slot-id=0?pin-value=1234\"\n"
      "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\nimagePullPolicy = \"never\"\n"
      "[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.6\"\n"
      "createOptions = { HostConfig = { Binds = [\"/iotedge/storage:/iotedge/storage\"] } }\n"
      "[agent.config.auth]\nserveraddress = \"example.azurecr.io\"\nusername = "
      "\"username\"\npassword = \"password\"\n"
      "[agent.env]\n\"RuntimeLogLevel\" = \"debug\"\n\"UpstreamProtocol\" = "
      "\"AmqpWs\"\n\"storageFolder\" = \"/iotedge/storage\"\n"
      "[connect]\nworkload_uri = \"unix:///var/run/iotedge/workload.sock\"\nmanagement_uri = "
      "\"unix:///var/run/iotedge/mgmt.sock\"\n"
      "[listen]\nworkload_uri = \"fd://aziot-edged.workload.socket\"\nmanagement_uri = "
      "\"fd://aziot-edged.mgmt.socket\"\n"
      "[watchdog]\nmax_retries = \"infinite\"\n"
      "[edge_ca]\nauto_generated_edge_ca_expiry_days = 90\n"
      "[edge_ca.auto_renew]\nrotate_key = true\nthreshold = \"80%\"\nretry = \"4%\"\n"
      "[image_garbage_collection]\nenabled = true\ncleanup_recurrence = "
      "\"2d\"\nimage_age_cleanup_threshold = \"7d\"\ncleanup_time = \"03:30\"\n"
      "[moby_runtime]\nuri = \"unix:///var/run/docker.sock\"\nnetwork = \"azure-iot-edge\"\n";
  std::vector<std::string> provisionings = {
      kProvisioning,
      "[provisioning]\nsource = \"manual\"\niothub_hostname = "
      "\"example.azure-devices.net\"\ndevice_id = \"my-device\"\n"
      "[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = { uri = "
      "\"pkcs11:slot-id=0;object=device%20id?pin-value=1234\" }\n",
      "[provisioning]\nsource = \"manual\"\niothub_hostname = "
      "\"example.azure-devices.net\"\ndevice_id = \"my-device\"\n"
      "[provisioning.authentication]\nmethod = \"x509\"\nidentity_pk = "
      "\"file:///var/secrets/device-id.key.pem\"\n"
      "identity_cert = \"file:///var/secrets/device-id.pem\"\n",
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = "
      "\"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ab1234C5D6\"\n"
      "payload = { uri = \"file:///var/secrets/aziot/identityd/dps-additional-data.json\" }\n"
      "[provisioning.attestation]\nmethod = \"symmetric_key\"\nregistration_id = \"my-device\"\n"
      "symmetric_key = { uri = \"file:///var/secrets/device-id.key\" }\n",
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = "
      "\"https://global.azure-devices-provisioning.net/\"\nid_scope = \"0ab1234C5D6\"\n"
      "[provisioning.attestation]\nmethod = \"x509\"\nregistration_id = \"my-device\"\n"
      "[provisioning.attestation.identity_cert]\nmethod = \"est\"\nsubject = { L = \"AQ\", ST = "
      "\"Antarctica\", CN = \"my-device\" }\n"
      "[provisioning.attestation.identity_cert.auto_renew]\nrotate_key = true\nthreshold = "
      "\"80%\"\nretry = \"4%\"\n",
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = "
      "\"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ab1234C5D6\"\n"
      "[provisioning.attestation]\nmethod = \"tpm\"\nregistration_id = \"my-device\"\n"};
  for (const auto& p : provisionings) {
    TempDir dir;
    write_file(dir / "config.toml", common + p + rest, 0600);
    auto r = run_cli("iotedge", "config apply -c " + shell_quote(dir / "config.toml") +
                                    " --output-dir " + shell_quote(dir / "out"));
    INFO(p << "\n" << r.output);
    REQUIRE(r.code == 0);
    REQUIRE_THAT(r.output, !Catch::Contains("unknown key"));
    auto edged = toml::parse(read_file(dir / "out/edged.toml"));
    REQUIRE(edged["image_garbage_collection"]["cleanup_recurrence"].value_or(std::string()) ==
            "2days");
    REQUIRE(edged["image_garbage_collection"]["cleanup_time"].value_or(std::string()) == "03:30");
    REQUIRE(edged["allow_elevated_docker_permissions"].value_or(true) == false);
    auto tpmd = toml::parse(read_file(dir / "out/tpmd.toml"));
    REQUIRE(tpmd["tcti"].value_or(std::string()) == "swtpm:port=2321");
    REQUIRE(tpmd["hierarchy_authorization"]["owner"].value_or(std::string()) == "world");
  }
}

TEST_CASE("seed 000: a nested 1.2-preview config.yaml imports and applies", "[cli]") {
  TempDir dir;
  write_file(
      dir / "config.yaml",
      "provisioning:\n  source: \"manual\"\n  device_connection_string: "
      "\"HostName=hub.azure-devices.net;DeviceId=child;SharedAccessKey="
      "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGU=\"\n"
      "certificates:\n  device_ca_cert: \"/certs/iot-edge-device-ca-child-full-chain.cert.pem\"\n"
      "  device_ca_pk: \"/private/iot-edge-device-ca-child.key.pem\"\n"
      "  trusted_ca_certs: \"/certs/azure-iot-test-only.root.ca.cert.pem\"\n"
      "hostname: \"child.local\"\nparent_hostname: \"10.0.0.4\"\n"
      "agent:\n  name: \"edgeAgent\"\n  type: \"docker\"\n  env: {}\n  config:\n"
      "    image: \"10.0.0.4:443/azureiotedge-agent:1.2.0-rc1\"\n    auth: {}\n",
      0600);
  auto env = fixture_env();
  env["EDGE_CLI_ROOT"] = dir.path();
  auto imported = run_cli("iotedge",
                          "config import -c " + shell_quote(dir / "config.yaml") + " -o " +
                              shell_quote(dir / "config.toml"),
                          env);
  INFO(imported.output);
  REQUIRE(imported.code == 0);
  std::string text = read_file(dir / "config.toml");
  REQUIRE_THAT(text,
               Catch::StartsWith(
                   "trust_bundle_cert = \"file:///certs/azure-iot-test-only.root.ca.cert.pem\"\n"
                   "auto_reprovisioning_mode = \"OnErrorOnly\"\nhostname = \"child.local\"\n"
                   "parent_hostname = \"10.0.0.4\"\n"));
  REQUIRE_THAT(
      text,
      Catch::Contains(
          "[edge_ca]\ncert = \"file:///certs/iot-edge-device-ca-child-full-chain.cert.pem\"\n"));

  auto identityd = applied(text, "identityd.toml");
  REQUIRE(identityd["provisioning"]["local_gateway_hostname"].value_or(std::string()) ==
          "10.0.0.4");
  REQUIRE(identityd["hostname"].value_or(std::string()) == "child.local");
}
