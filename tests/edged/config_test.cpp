// edged's config: every upstream conformance case's expected edged.toml (what `iotedge config
// apply` writes) loads; the CLI's own output for a full super-config loads with every value;
// each wrong value makes aziot-edged exit 153 naming its key.
#include "common/config.h"

#include <dirent.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "edged/config.h"
#include "tests/support/harness.h"

using namespace edged;

namespace {
const std::string kConformance = EDGE_SOURCE_DIR "/../shared/conformance/iotedge-config";

Config load_text(const std::string& text) {
  auto table = edge::config::parse(text, "test.toml");
  REQUIRE(table);
  auto c = parse_config(*table);
  INFO((c ? "" : c.error().message));
  REQUIRE(c);
  return *c;
}

std::string load_error(const std::string& text) {
  auto table = edge::config::parse(text, "bad.toml");
  REQUIRE(table);
  auto c = parse_config(*table);
  REQUIRE_FALSE(c);
  return c.error().message;
}
}  // namespace

TEST_CASE("every conformance case's edged config loads", "[unit]") {
  auto cases = edge::test::list_dir(kConformance);
  int loaded = 0;
  for (const auto& name : cases) {
    std::string path = kConformance + "/" + name + "/edged.toml";
    if (::access(path.c_str(), R_OK) != 0) continue;
    INFO(name);
    auto table = edge::config::load({path, "/nonexistent"});
    REQUIRE(table);
    auto c = parse_config(*table);
    INFO((c ? "" : c.error().message));
    REQUIRE(c);
    CHECK(c->hostname == "my-device");
    CHECK(c->homedir == "/var/lib/aziot/edged");
    CHECK(c->agent.name == "edgeAgent");
    CHECK(c->agent.image == "mcr.microsoft.com/azureiotedge-agent:1.0");
    CHECK(c->agent.pull_policy == PullPolicy::OnCreate);
    CHECK_FALSE(c->agent.auth);  // empty [agent.config.auth]
    CHECK(c->connect_management_uri ==
          (*table)["connect"]["management_uri"].value_or(std::string()));
    CHECK(c->moby_uri == "unix:///var/run/docker.sock");
    CHECK(c->network.name == "azure-iot-edge");
    CHECK_FALSE(c->watchdog_max_retries);
    // Values as written in the case's file.
    CHECK(c->auto_reprovisioning_mode ==
          (*table)["auto_reprovisioning_mode"].value_or(std::string("Dynamic")));
    CHECK(c->listen_management_uri == (*table)["listen"]["management_uri"].value_or(std::string()));
    CHECK(c->listen_workload_uri == (*table)["listen"]["workload_uri"].value_or(std::string()));
    CHECK(c->connect_workload_uri == (*table)["connect"]["workload_uri"].value_or(std::string()));
    if (name == "moby-runtime-network-2") {
      CHECK(c->network.ipv6);
      REQUIRE(c->network.ipam.size() == 2);
      CHECK(c->network.ipam[1].subnet == "2021:ffff:e0:3b1:1::/80");
      CHECK(c->network.ipam[0].gateway == "172.18.0.1");
      CHECK(c->network.ipam[0].ip_range == "172.18.0.0/16");
    }
    if (name == "nested-edge") {
      CHECK(c->max_management_requests == 20);
      CHECK(c->max_workload_requests == 30);
    }
    ++loaded;
  }
  CHECK(loaded >= 18);
}

TEST_CASE("the CLI's edged config for a full super-config loads with every value", "[unit]") {
  edge::test::TempDir dir;
  edge::test::write_file(dir / "config.toml", R"(
hostname = "child-device"
parent_hostname = "parent-device"
allow_elevated_docker_permissions = false

[provisioning]
source = "manual"
connection_string = "HostName=example.azure-devices.net;DeviceId=my-device;SharedAccessKey=YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGU="

[agent]
name = "edgeAgent"
type = "docker"
imagePullPolicy = "never"

[agent.config]
image = "$upstream:443/azureiotedge-agent:1.5"
createOptions = { HostConfig = { Binds = ["/iotedge/storage:/iotedge/storage"], Memory = 536870912 }, Env = ["A=1"] }

[agent.config.auth]
serveraddress = "$upstream:443"
username = "user"
password = "secret"

[agent.env]
"RuntimeLogLevel" = "debug"
"UpstreamProtocol" = "AmqpWs"

[watchdog]
max_retries = 3

[image_garbage_collection]
enabled = true
cleanup_recurrence = "2d"
image_age_cleanup_threshold = "3d"
cleanup_time = "04:30"

[moby_runtime]
uri = "unix:///var/run/docker.sock"

[moby_runtime.network]
name = "edge-net"
ipv6 = true

[[moby_runtime.network.ipam.config]]
gateway = "172.28.0.1"
subnet = "172.28.0.0/16"
ip_range = "172.28.0.0/16"
)");
  std::string out;
  int rc = edge::test::run(edge::test::bin("iotedge") + " config apply -c " + dir / "config.toml" +
                               " --output-dir " + dir / "out 2>&1",
                           &out);
  INFO(out);
  REQUIRE(rc == 0);
  auto table = edge::config::load({dir / "out/edged.toml", "/nonexistent"});
  REQUIRE(table);
  auto c = parse_config(*table);
  INFO((c ? "" : c.error().message));
  REQUIRE(c);
  CHECK(c->hostname == "child-device");
  CHECK_FALSE(c->allow_elevated_docker_permissions);
  CHECK(c->agent.pull_policy == PullPolicy::Never);
  CHECK(c->agent.image == "$upstream:443/azureiotedge-agent:1.5");
  CHECK(c->agent.create_options["HostConfig"]["Binds"][0] == "/iotedge/storage:/iotedge/storage");
  CHECK(c->agent.create_options["HostConfig"]["Memory"] == 536870912);
  CHECK(c->agent.create_options["Env"][0] == "A=1");
  REQUIRE(c->agent.auth);
  CHECK(c->agent.auth->username == "user");
  CHECK(c->agent.auth->password == "secret");
  CHECK(c->agent.auth->server == "$upstream:443");
  REQUIRE(c->agent.env.size() == 2);
  CHECK(c->agent.env[0] == std::pair<std::string, std::string>{"RuntimeLogLevel", "debug"});
  CHECK(c->watchdog_max_retries == 3u);
  CHECK(c->image_gc.cleanup_recurrence == 2 * 86400);
  CHECK(c->image_gc.image_age_cleanup_threshold == 3 * 86400);
  CHECK(c->image_gc.cleanup_time == 4 * 60 + 30);
  CHECK(c->network.name == "edge-net");
  CHECK(c->network.ipv6);
  CHECK(c->network.ipam.size() == 1);
}

TEST_CASE("edged config defaults are the packaged ones", "[unit]") {
  Config c = load_text("");
  CHECK(c.homedir == "/var/lib/aziot/edged");
  CHECK(c.listen_management_uri == "fd://aziot-edged.mgmt.socket");
  CHECK(c.connect_workload_uri == "unix:///var/run/iotedge/workload.sock");
  CHECK(c.network.name == "azure-iot-edge");
  CHECK(c.image_gc.enabled);
  CHECK(c.image_gc.cleanup_recurrence == 86400);
  CHECK(c.image_gc.image_age_cleanup_threshold == 7 * 86400);
  CHECK(c.image_gc.cleanup_time == 0);
  CHECK(c.allow_elevated_docker_permissions);
  CHECK_FALSE(c.hostname.empty());  // the machine's name
  CHECK(load_text("[watchdog]\nmax_retries = \"Infinite\"\n").watchdog_max_retries == std::nullopt);
  CHECK(load_text("[moby_runtime]\nuri = \"unix:///run/docker.sock\"\nnetwork = \"\"\n")
            .network.name == "azure-iot-edge");
}

TEST_CASE("humantime durations parse as upstream writes them", "[unit]") {
  CHECK(parse_duration("1d") == 86400);
  CHECK(parse_duration("7days") == 7 * 86400);
  CHECK(parse_duration("12h 30m") == 12 * 3600 + 30 * 60);
  CHECK(parse_duration("90s") == 90);
  CHECK(parse_duration("1w") == 604800);
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("d"));
  CHECK_FALSE(parse_duration("5 fortnights"));
  CHECK_FALSE(parse_duration("-1d"));
  CHECK_FALSE(parse_duration("99999999999999d"));
}

TEST_CASE("aziot-edged exits 153 naming the wrong key", "[unit]") {
  struct Bad {
    std::string text, key;
  };
  std::vector<Bad> cases = {
      {"hostname = 5\n", "hostname"},
      {"homedir = \"relative/dir\"\n", "homedir"},
      {"auto_reprovisioning_mode = \"Sometimes\"\n", "auto_reprovisioning_mode"},
      {"allow_elevated_docker_permissions = \"no\"\n", "allow_elevated_docker_permissions"},
      {"[agent]\nimagePullPolicy = \"sometimes\"\n", "agent.imagePullPolicy"},
      {"[agent]\ntype = \"podman\"\n", "agent.type"},
      {"[agent]\nname = \" \"\n", "agent.name"},
      {"[agent.config]\nimage = \"\"\n", "agent.config.image"},
      {"[agent.config]\nimage = \"Bad Image\"\n", "agent.config.image"},
      {"[agent.config]\ncreateOptions = \"{}\"\n", "agent.config.createOptions"},
      {"[agent.config.auth]\nusername = 1\n", "agent.config.auth.username"},
      {"[agent.env]\nRuntimeLogLevel = 3\n", "agent.env.RuntimeLogLevel"},
      {"[listen]\nmanagement_uri = \"http://localhost:80\"\n", "listen.management_uri"},
      {"[connect]\nworkload_uri = 7\n", "connect.workload_uri"},
      {"[watchdog]\nmax_retries = \"forever\"\n", "watchdog.max_retries"},
      {"[watchdog]\nmax_retries = -1\n", "watchdog.max_retries"},
      {"[moby_runtime]\nuri = \"tcp://127.0.0.1:2375\"\n", "moby_runtime.uri"},
      {"[moby_runtime]\nnetwork = 5\n", "moby_runtime.network"},
      {"[moby_runtime.network]\nipv6 = true\n", "moby_runtime.network.name"},
      {"[moby_runtime.network]\nname = \"n\"\nipv6 = \"yes\"\n", "moby_runtime.network.ipv6"},
      {"[moby_runtime.network]\nname = \"n\"\n[moby_runtime.network.ipam]\nconfig = [1]\n",
       "moby_runtime.network.ipam.config"},
      {"[image_garbage_collection]\ncleanup_recurrence = \"36h\"\n",
       "image_garbage_collection.cleanup_recurrence"},
      {"[image_garbage_collection]\nimage_age_cleanup_threshold = \"soon\"\n",
       "image_garbage_collection.image_age_cleanup_threshold"},
      {"[image_garbage_collection]\ncleanup_time = \"25:00\"\n",
       "image_garbage_collection.cleanup_time"},
      {"[image_garbage_collection]\ncleanup_time = \"4:30pm\"\n",
       "image_garbage_collection.cleanup_time"},
      {"[image_garbage_collection]\nenabled = \"true\"\n", "image_garbage_collection.enabled"},
      {"[iotedge_max_requests]\nmanagement = 0\n", "iotedge_max_requests.management"},
  };
  edge::test::TempDir dir;
  std::filesystem::create_directories(dir / "config.d");
  for (const auto& bad : cases) {
    INFO(bad.text);
    CHECK_THAT(load_error(bad.text),
               Catch::Contains("\"" + bad.key + "\"") && Catch::Contains("bad.toml:"));
  }
  // The daemon itself: the drop-in file and key named, exit 153 (systemd does not restart it).
  for (size_t i : {size_t{4}, size_t{16}, size_t{21}}) {
    edge::test::write_file(dir / "config.d/00-super.toml", cases[i].text);
    edge::test::Process edged(
        {edge::test::bin("aziot-edged")},
        {{"AZIOT_EDGED_CONFIG", dir / "none.toml"}, {"AZIOT_EDGED_CONFIG_DIR", dir / "config.d"}},
        dir / "edged.log");
    CHECK(edged.wait() == 153);
    CHECK_THAT(edged.log(),
               Catch::Contains("00-super.toml:") && Catch::Contains("\"" + cases[i].key + "\""));
  }
  edge::test::write_file(dir / "config.d/00-super.toml", "[agent\n");
  edge::test::Process broken(
      {edge::test::bin("aziot-edged")},
      {{"AZIOT_EDGED_CONFIG", dir / "none.toml"}, {"AZIOT_EDGED_CONFIG_DIR", dir / "config.d"}},
      dir / "edged2.log");
  CHECK(broken.wait() == 153);
  CHECK_THAT(broken.log(), Catch::Contains("00-super.toml:1"));
}
