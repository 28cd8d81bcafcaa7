// GET /systeminfo/supportbundle through the real stack: a zip in upstream's layout (the one
// `iotedge support-bundle` writes) that unzip accepts, with the modules' logs and inspects, the
// network inspect, check.json from the real `iotedge check`, edged's config redacted (the
// registry password of [agent.config.auth] appears nowhere), edge_runtime_only honoured, and
// bad query values answered 400 with the parameter named.
#include <cstdlib>

#include "tests/edged/runtime_stack.h"

using namespace runtime_stack;

namespace {
const std::string kApi = "api-version=2020-07-07";

std::vector<std::string> entries(const std::string& zip) {
  std::string out;
  edge::test::run("unzip -Z1 " + zip, &out);
  std::vector<std::string> names;
  for (size_t start = 0; start < out.size();) {
    size_t nl = out.find('\n', start);
    if (nl == std::string::npos) nl = out.size();
    if (nl > start) names.push_back(out.substr(start, nl - start));
    start = nl + 1;
  }
  return names;
}

bool has(const std::vector<std::string>& v, const std::string& name) {
  return std::find(v.begin(), v.end(), name) != v.end();
}
}  // namespace

TEST_CASE("edged serves the support bundle zip in upstream's layout", "[docker][e2e]") {
  Stack s;
  const std::string secret = "bundle-secret-" + s.suffix;
  s.write_edged_config("unix:///var/run/docker.sock", "",
                       "username = \"puller\"\npassword = \"" + secret +
                           "\"\nserveraddress = \"127.0.0.1:5999\"\n");
  const char* path = std::getenv("PATH");
  s.extra_env["PATH"] = std::string(EDGE_BIN_DIR) + ":" + (path ? path : "/usr/bin:/bin");
  s.start_edged();
  bool up = wait_until([&] { return s.agent_running(); }, std::chrono::seconds(60));
  INFO(s.log());
  REQUIRE(up);
  // A module that logs a line (scope label only: it is this test's module).
  std::string module = "bundle-mod-" + s.suffix;
  std::string marker = "hello-from-" + s.suffix;
  Json body{{"Image", kImage},
            {"Cmd", {"/bin/sh", "-c", "echo " + marker + "; trap 'exit 0' TERM; sleep 3600 & wait"}},
            {"Labels", {{s.scope.substr(0, s.scope.find('=')), s.suffix}}}};
  REQUIRE(s.docker.create_container(module, body));
  REQUIRE(s.docker.start(module));
  REQUIRE(wait_until(
      [&] {
        std::string out;
        edge::test::run("docker logs " + module + " 2>&1", &out);
        return out.find(marker) != std::string::npos;
      },
      std::chrono::seconds(10)));

  edge::http::UnixClient mgmt(s.dir / "mgmt.sock", std::chrono::seconds(240));
  auto started = std::chrono::steady_clock::now();
  auto r = mgmt.request("GET", "/systeminfo/supportbundle?" + kApi + "&since=1h");
  REQUIRE(r);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  WARN("support bundle: " << r->body.size() << " bytes in " << took.count() << " ms");
  REQUIRE(r->status == 200);
  std::string type, encoding;
  for (const auto& [k, v] : r->headers) {
    if (k == "content-type") type = v;
    if (k == "content-encoding") encoding = v;
  }
  CHECK(type == "application/zip");
  CHECK(encoding == "deflate");  // upstream's header
  std::string zip = s.dir / "bundle.zip";
  edge::test::write_file(zip, r->body, 0600);
  std::string test_out;
  CHECK(edge::test::run("unzip -t " + zip, &test_out) == 0);
  INFO(test_out);

  auto names = entries(zip);
  CHECK(has(names, "check.json"));
  CHECK(has(names, "logs/" + module + "_log.txt"));
  CHECK(has(names, "logs/" + s.agent + "_log.txt"));
  CHECK(has(names, "inspect/" + module + ".json"));
  CHECK(has(names, "inspect/" + s.agent + ".json"));
  CHECK(has(names, "network/" + s.network + ".json"));
  CHECK(has(names, "config/edged/config.d/00-super.toml"));
  for (const char* unit : {"aziot-keyd", "aziot-certd", "aziot-identityd", "aziot-edged", "docker"})
    CHECK((has(names, std::string("logs/") + unit + ".txt") || has(names, std::string("logs/") + unit + "_err.txt")));

  std::string text;
  edge::test::run("unzip -p " + zip + " logs/" + module + "_log.txt", &text);
  CHECK(text == marker + "\n");  // frame headers removed
  edge::test::run("unzip -p " + zip + " inspect/" + module + ".json", &text);
  Json inspect = Json::parse(text);
  REQUIRE(inspect.is_array());
  CHECK(inspect[0]["Name"] == "/" + module);
  edge::test::run("unzip -p " + zip + " network/" + s.network + ".json", &text);
  CHECK(Json::parse(text)[0]["Name"] == s.network);
  edge::test::run("unzip -p " + zip + " check.json", &text);
  // The real `iotedge check -o json` ran (its JSON first, then anything it wrote to stderr).
  auto check = Json::parse(text.substr(0, text.find('\n')), nullptr, false);
  CHECK((check.is_object() && check.contains("additional_info")));
  edge::test::run("unzip -p " + zip + " config/edged/config.d/00-super.toml", &text);
  CHECK_THAT(text, Catch::Contains("password = \"<redacted>\"") && Catch::Contains("puller"));
  std::string all;
  edge::test::run("unzip -p " + zip, &all);
  CHECK(all.find(secret) == std::string::npos);

  // edge_runtime_only: only edgeAgent and edgeHub (by name, as upstream): neither runs here.
  r = mgmt.request("GET", "/systeminfo/supportbundle?" + kApi + "&edge_runtime_only=true&until=1s");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  edge::test::write_file(zip, r->body, 0600);
  CHECK(edge::test::run("unzip -tq " + zip) == 0);
  names = entries(zip);
  CHECK(has(names, "check.json"));
  CHECK_FALSE(has(names, "logs/" + module + "_log.txt"));
  CHECK_FALSE(has(names, "inspect/" + s.agent + ".json"));

  // Bad input: 400 naming the parameter; a version before 2020-07-07 has no such route.
  for (const auto& [query, message] : std::vector<std::pair<std::string, std::string>>{
           {"since=yesterday", "invalid parameter: since"},
           {"until=12parsecs", "invalid parameter: until"},
           {"since=1h&until=", "invalid parameter: until"},
           {"edge_runtime_only=yes", "invalid parameter: edge_runtime_only"},
           {"iothub_hostname=--help", "invalid parameter: iothub_hostname"},
           {"iothub_hostname=a%20b", "invalid parameter: iothub_hostname"}}) {
    INFO(query);
    auto bad = edge::test::call(mgmt, "GET", "/systeminfo/supportbundle?" + kApi + "&" + query);
    CHECK(bad.status == 400);
    CHECK(bad.json["message"] == message);
  }
  auto old = edge::test::call(mgmt, "GET", "/systeminfo/supportbundle?api-version=2019-11-05");
  CHECK(old.status == 404);
  // Still serving.
  CHECK(edge::test::call(mgmt, "GET", "/modules?api-version=2022-08-03").status == 200);
  CHECK(s.edged->running());
  (void)s.docker.remove_container(module, true);
}
