// `iotedge support-bundle`: the zip's entries (upstream's layout plus redacted configs), module
// logs through the management API, docker inspect of a real container, secrets absent, the
// archive valid for unzip and Python's zipfile; the zip writer and the parsers on their own.
#include <unistd.h>

#include <thread>

#include "cli/bundle/support_bundle.h"
#include "cli/bundle/zip_writer.h"
#include "common/http/server.h"
#include "common/uri.h"
#include "tests/cli/check_support.h"

using namespace edge::test;

namespace {

const char* kSasKey = "c2VjcmV0LWtleS1vZi10aGUtY2hlY2stdGVzdHM=";

// Docker's multiplexed log framing: stream byte, 3 zero bytes, big-endian length.
std::string frame(const std::string& line) {
  std::string f = {1, 0, 0, 0};
  uint32_t n = static_cast<uint32_t>(line.size());
  for (int s : {24, 16, 8, 0}) f += static_cast<char>((n >> s) & 0xff);
  return f + line;
}

// edged's management API as far as the bundle uses it: the module list and logs.
struct MgmtStandIn {
  edge::http::Server server;
  std::thread thread;
  std::string last_logs_query;
  MgmtStandIn(const std::string& path, std::vector<std::string> modules)
      : server(
            [this, modules](edge::http::Request& r) {
              if (r.path == "/modules") {
                Json list = Json::array();
                for (const auto& m : modules) list.push_back({{"name", m}, {"status", {{"runtimeStatus", {{"status", "running"}}}}}});
                return edge::http::Response::json(200, Json{{"modules", list}});
              }
              if (r.path.ends_with("/logs")) {
                last_logs_query = r.target;
                std::string module = r.path.substr(9, r.path.size() - 9 - 5);
                edge::http::Response resp;
                resp.content_type = "application/octet-stream";
                resp.body = frame("hello from " + module + "\n") + frame("second line\n");
                return resp;
              }
              return edge::http::Response::error(404, "not found");
            },
            edge::http::ServerOptions{}) {
    REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + path)));
    thread = std::thread([this] { server.run(); });
  }
  ~MgmtStandIn() {
    server.stop();
    thread.join();
  }
};

std::string zip_listing(const std::string& zip) {
  std::string out;
  run("python3 -c 'import sys,zipfile; print(\"\\n\".join(zipfile.ZipFile(sys.argv[1]).namelist()))' " + shell_quote(zip), &out);
  return out;
}

std::string zip_entry(const std::string& zip, const std::string& name) {
  std::string out;
  run("unzip -p " + shell_quote(zip) + " " + shell_quote(name), &out);
  return out;
}

}  // namespace

TEST_CASE("support-bundle writes upstream's zip layout without secrets", "[bundle][docker]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback(), "") + "[agent.config.auth]\nserveraddress = \"127.0.0.1:5000\"\n"
                                                      "username = \"u\"\npassword = \"hunter2-chk\"\n");
  const std::string module = "chkmod-" + std::to_string(::getpid());
  REQUIRE(run("docker create --name " + module + " edge-test-busybox:1 true >/dev/null") == 0);
  struct Cleanup {
    std::string name;
    ~Cleanup() { run("docker rm -f " + name + " >/dev/null 2>&1"); }
  } cleanup{module};
  const std::string sock = s.dir / "mgmt.sock";
  MgmtStandIn mgmt(sock, {"edgeAgent", module});
  write_file(s.dir / "journalctl", "#!/bin/sh\necho \"journal of $3 since $5 $6\"\n", 0755);
  auto env = s.env;
  env["EDGE_CLI_JOURNALCTL"] = s.dir / "journalctl";
  env["EDGE_CLI_BUNDLE_CHECK_ARGS"] = s.base_flags();
  const std::string zip = s.dir / "bundle.zip";

  auto r = run_cli("iotedge", "-H unix://" + sock + " support-bundle -o " + shell_quote(zip) + " --since '2 hours'", env);
  INFO(r.output);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.output, Catch::StartsWith("Making support bundle\n") && Catch::Contains("Created support bundle at " + zip));
  CHECK(run("unzip -tq " + shell_quote(zip) + " >/dev/null") == 0);
  CHECK(run("python3 -m zipfile -t " + shell_quote(zip) + " >/dev/null") == 0);

  const std::string listing = zip_listing(zip);
  INFO(listing);
  for (const std::string& entry : std::vector<std::string>
       {std::string("check.json"), "logs/edgeAgent_log.txt", "logs/" + module + "_log.txt", "inspect/" + module + ".json",
        std::string("inspect/edgeAgent_err.json"), std::string("network/bridge.json"), std::string("logs/aziot-keyd.txt"),
        std::string("logs/aziot-certd.txt"), std::string("logs/aziot-identityd.txt"), std::string("logs/aziot-edged.txt"),
        std::string("logs/docker.txt"), std::string("config/config.toml"),
        std::string("config/identityd/config.d/00-super.toml"), std::string("config/edged/config.d/00-super.toml")})
    CHECK_THAT(listing, Catch::Contains(entry + "\n"));

  CHECK(zip_entry(zip, "logs/" + module + "_log.txt") == "hello from " + module + "\nsecond line\n");
  CHECK_THAT(mgmt.last_logs_query, Catch::Contains("tail=all") && Catch::Contains("since="));
  Json inspect = Json::parse(zip_entry(zip, "inspect/" + module + ".json"), nullptr, false);
  REQUIRE(inspect.is_array());
  CHECK(inspect[0]["Name"] == "/" + module);
  CHECK_THAT(zip_entry(zip, "logs/aziot-edged.txt"), Catch::StartsWith("journal of aziot-edged since "));
  Json check = Json::parse(zip_entry(zip, "check.json").substr(0, zip_entry(zip, "check.json").find('\n')), nullptr, false);
  CHECK(check.contains("checks"));
  CHECK(check["checks"]["keyd-config-well-formed"]["result"]["result"] == "ok");

  // Secrets: neither the SAS key nor the registry password is anywhere in the archive.
  std::string everything;
  run("unzip -p " + shell_quote(zip), &everything);
  CHECK(everything.find(kSasKey) == std::string::npos);
  CHECK(everything.find("hunter2-chk") == std::string::npos);
  CHECK_THAT(zip_entry(zip, "config/config.toml"), Catch::Contains("SharedAccessKey=<redacted>"));
  CHECK_THAT(zip_entry(zip, "config/edged/config.d/00-super.toml"), Catch::Contains("password = \"<redacted>\""));
  CHECK((std::stoi([&] { std::string m; run("stat -c %a " + shell_quote(zip), &m); return m; }()) == 600));

  // -e: only the runtime modules; -o -: the zip on stdout, status on stderr; -q: silent.
  r = run_cli("iotedge", "-H unix://" + sock + " support-bundle -e -q -o - > " + shell_quote(s.dir / "stdout.zip"), env);
  CHECK(r.code == 0);
  CHECK(r.output.empty());
  const std::string runtime_only = zip_listing(s.dir / "stdout.zip");
  CHECK_THAT(runtime_only, Catch::Contains("logs/edgeAgent_log.txt"));
  CHECK_THAT(runtime_only, !Catch::Contains(module));
  CHECK(run("unzip -tq " + shell_quote(s.dir / "stdout.zip") + " >/dev/null") == 0);

  // No management socket: a warning, and the bundle is still made.
  r = run_cli("iotedge", "-H unix://" + s.dir / "none.sock" + " support-bundle -o " + shell_quote(s.dir / "b2.zip"), env);
  CHECK(r.code == 0);
  CHECK_THAT(r.output, Catch::Contains("Warning: Unable to call management socket. Module list not available."));
  CHECK(run("unzip -tq " + shell_quote(s.dir / "b2.zip") + " >/dev/null") == 0);

  // Bad input changes nothing.
  r = run_cli("iotedge", "-H unix://" + sock + " support-bundle --since yesterday-ish -o " + shell_quote(s.dir / "b3.zip"), env);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("invalid duration"));
  CHECK_FALSE(file_exists(s.dir / "b3.zip"));
  CHECK(run_cli("iotedge", "support-bundle --bogus", env).code == 2);
}

TEST_CASE("support-bundle parses since and until as upstream", "[bundle]") {
  using edge::cli::bundle::parse_since;
  const long long now = 1'800'000'000;
  CHECK(parse_since("1 day", now).value() == now - 86400);
  CHECK(parse_since("90 minutes", now).value() == now - 5400);
  CHECK(parse_since("2h30m", now).value() == now - 9000);
  CHECK(parse_since("2 days 3 hours 2 minutes", now).value() == now - (2 * 86400 + 3 * 3600 + 120));
  CHECK(parse_since("0d", now).value() == now);
  CHECK(parse_since("1700000000", now).value() == 1700000000);
  CHECK(parse_since("2023-11-14T22:13:20Z", now).value() == 1700000000);
  CHECK(parse_since("2023-11-14T23:13:20+01:00", now).value() == 1700000000);
  for (const char* bad : {"", "yesterday", "5 fortnights", "1 day ago", "-5m", "99999999999999999999",
                          "2023-11-14T22:13:20+0100"})
    CHECK_FALSE(parse_since(bad, now).has_value());
}

TEST_CASE("support-bundle redacts secrets in configs", "[bundle]") {
  using edge::cli::bundle::redact;
  const std::string in =
      "[provisioning]\nconnection_string = \"HostName=h;DeviceId=d;SharedAccessKey=abc123==\"\n"
      "[provisioning.authentication.device_id_pk]\nvalue = \"c2VjcmV0\"\n"
      "[agent.config.auth]\npassword = 'p4ss'\n"
      "[aziot_keys]\npkcs11_base_slot = \"pkcs11:token=t?pin-value=1234\"\n"
      "device_id_pk = { value = \"inline-secret\" }\nhostname = \"keep-me\"\n";
  const std::string out = redact(in);
  for (const char* secret : {"abc123", "c2VjcmV0", "p4ss", "1234", "inline-secret"})
    CHECK(out.find(secret) == std::string::npos);
  CHECK_THAT(out, Catch::Contains("hostname = \"keep-me\"") && Catch::Contains("HostName=h;DeviceId=d;"));
}

TEST_CASE("zip writer output is read back by unzip and python", "[bundle]") {
  edge::cli::bundle::ZipWriter zip;
  std::string big(200000, 'a');
  std::string random(5000, '\0');
  std::mt19937 rng(7);
  for (auto& c : random) c = static_cast<char>(rng());
  REQUIRE(zip.add("dir/big.txt", big));
  REQUIRE(zip.add("random.bin", random));
  REQUIRE(zip.add("empty.txt", ""));
  REQUIRE(zip.add("stored.txt", "plain", true));
  CHECK_FALSE(zip.add("../escape", "x"));
  CHECK_FALSE(zip.add("/abs", "x"));
  CHECK_FALSE(zip.add("", "x"));
  TempDir dir;
  write_file(dir / "t.zip", zip.finish());
  CHECK(run("unzip -tq " + shell_quote(dir / "t.zip") + " >/dev/null") == 0);
  CHECK(zip_listing(dir / "t.zip") == "dir/big.txt\nrandom.bin\nempty.txt\nstored.txt\n");
  CHECK(zip_entry(dir / "t.zip", "dir/big.txt") == big);
  CHECK(zip_entry(dir / "t.zip", "random.bin") == random);
  CHECK(zip_entry(dir / "t.zip", "stored.txt") == "plain");
  CHECK(read_file(dir / "t.zip").size() < 10000);  // deflated
}
