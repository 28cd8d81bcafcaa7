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
