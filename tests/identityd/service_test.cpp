// aziot-identityd driven over its socket with a real aziot-keyd: identity answers, the
// authorization matrix over every route, module key derivation, saved state and bad input.
// The hub here does not answer (offline); hub round trips are in the emulator tests.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"
#include "identityd/config.h"
#include "tests/identityd/fixture.h"

using namespace identityd_test;
using edge::http::Json;

namespace {
const std::string kDeviceKey = "0123456789abcdef0123456789abcdef";

std::unique_ptr<Daemons> manual_daemons(const std::string& extra = "",
                                        const std::string& principals = default_principals()) {
  auto d = std::make_unique<Daemons>(extra + manual_sas() + principals, false);
  d->import_key("device-id", kDeviceKey);
  d->start_identityd();
  return d;
}
}  // namespace

TEST_CASE("identityd manual sas answers the device identity", "[integration]") {
  auto d = manual_daemons();
  for (std::string version : {"2020-09-01", "2021-12-01", "2022-08-01"}) {
    auto r = d->call("GET", api("/identities/identity", version));
    INFO(r.body);
    REQUIRE(r.status == 200);
    CHECK(r.json["type"] == "aziot");
    CHECK(r.json["spec"]["hubName"] == "127.255.255.254");
    CHECK(r.json["spec"]["gatewayHost"] == "127.255.255.254");
    CHECK(r.json["spec"]["deviceId"] == "dev1");
    CHECK(!r.json["spec"].contains("moduleId"));
    CHECK(r.json["spec"]["auth"]["type"] == "sas");
    // The handle is the device key in keyd: it signs like the key itself.
    std::string handle = r.json["spec"]["auth"]["keyHandle"];
    CHECK(d->hmac_with_handle(handle, "msg") ==
          edge::crypto::hmac_sha256(kDeviceKey, "msg").value());
  }
  auto r = d->call("POST", api("/identities/device"), Json{{"type", "aziot"}});
  CHECK(r.status == 200);
  CHECK(r.json["spec"]["deviceId"] == "dev1");

  r = d->call("GET", api("/identities/provisioning", "2021-12-01"));
  REQUIRE(r.status == 200);
  CHECK(r.json == Json{{"source", "manual"}, {"auth", "sas"}});
  CHECK(d->call("GET", api("/identities/provisioning", "2020-09-01")).status == 404);

  r = d->call("GET", api("/trust-bundle"));
  CHECK(r.status == 200);
  CHECK(r.json.contains("certificate"));

  CHECK(d->call("POST", api("/identities/device/reprovision")).status == 204);
  CHECK(d->call("GET", api("/identities/identity")).status == 200);
  // The provisioning result is on disk, owner-only.
  struct stat st {};
  REQUIRE(::stat((d->homedir + "/device_info").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(d->identityd_log().find(kDeviceKey) == std::string::npos);
}

TEST_CASE("identityd nested gateway keeps hubName and sends gatewayHost", "[integration]") {
  Daemons d(manual_sas("myhub.example", "local_gateway_hostname = \"127.255.255.254\"\n"), false);
  d.import_key("device-id", kDeviceKey);
  d.start_identityd();
  auto r = d.call("GET", api("/identities/identity"));
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["hubName"] == "myhub.example");
  CHECK(r.json["spec"]["gatewayHost"] == "127.255.255.254");
}

TEST_CASE("identityd authorization matrix over every route", "[integration]") {
  auto d = manual_daemons();
  // 0 root, 1001 daemon, 1002 module host process "mod1", 1003 device host process, 4242 unknown
  const std::vector<uid_t> uids{0, 1001, 1002, 1003, 4242};
  struct Route {
    std::string method, path;
    std::optional<Json> body;
    std::vector<bool> allowed;  // per uid above
  };
  const std::vector<Route> routes{
      {"GET", "/identities/identity", std::nullopt, {true, true, true, true, false}},
      {"GET", "/identities/provisioning", std::nullopt, {true, true, false, true, false}},
      {"POST", "/identities/device", Json{{"type", "aziot"}}, {true, true, false, true, false}},
      {"POST", "/identities/device/reprovision", Json::object(), {true, true, false, false, false}},
      {"GET", "/identities/modules?type=aziot", std::nullopt, {true, true, false, false, false}},
      {"POST",
       "/identities/modules",
       Json{{"type", "aziot"}, {"moduleId", "m2"}},
       {true, true, false, false, false}},
      {"GET",
       "/identities/modules/mod1?type=aziot",
       std::nullopt,
       {true, true, true, false, false}},
      {"GET",
       "/identities/modules/other?type=aziot",
       std::nullopt,
       {true, true, false, false, false}},
      {"PUT",
       "/identities/modules/mod1?type=aziot",
       Json::object(),
       {true, true, false, false, false}},
      {"DELETE",
       "/identities/modules/mod1?type=aziot",
       std::nullopt,
       {true, true, false, false, false}},
      {"GET", "/trust-bundle", std::nullopt, {true, true, true, true, true}},
  };
  for (const auto& route : routes) {
    for (size_t i = 0; i < uids.size(); ++i) {
      auto r = uids[i] == 0 ? d->call(route.method, api(route.path), route.body)
                            : d->call_as(uids[i], route.method, api(route.path), route.body);
      INFO(route.method << " " << route.path << " as uid " << uids[i] << ": " << r.status << " "
                        << r.body);
      if (route.allowed[i]) {
        CHECK(r.status != 401);
        CHECK(r.status < 500);
      } else {
        CHECK(r.status == 401);
        CHECK(r.json["message"] == "authorization error");
      }
    }
  }
  // The daemon keeps serving after all of that.
  CHECK(d->call("GET", api("/identities/identity")).status == 200);
}

TEST_CASE("identityd module keys are derived in keyd from the master key as upstream",
          "[integration]") {
  // A module identity saved by an earlier run; the hub is unreachable, so it is served from
  // the saved state with keys derived from aziot_identityd_master_id.
  auto d = std::make_unique<Daemons>(
      "prefer_module_identity_cache = true\n" + manual_sas() + default_principals(), false);
  d->import_key("device-id", kDeviceKey);
  edge::test::run("mkdir -p " + d->homedir + " && chmod 700 " + d->homedir);
  edge::test::write_file(
      d->homedir + "/modules.json",
      R"({"hub":"127.255.255.254","device":"dev1","modules":{"mod1":{"generationId":"638000000000000001"}},"principals":["mod1"]})",
      0600);
  d->start_identityd();
  auto r = d->call_as(1002, "GET", api("/identities/identity"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.json["spec"]["moduleId"] == "mod1");
  CHECK(r.json["spec"]["genId"] == "638000000000000001");
  CHECK(r.json["spec"]["deviceId"] == "dev1");
  std::string handle = r.json["spec"]["auth"]["keyHandle"];

  std::string master = d->key_file_bytes("aziot_identityd_master_id");
  REQUIRE(master.size() == 32);
  auto primary = edge::crypto::hmac_sha256(master, "mod1:638000000000000001:primary").value();
  CHECK(d->hmac_with_handle(handle, "hello") ==
        edge::crypto::hmac_sha256(primary, "hello").value());
  // The exported key is what identityd sends to the hub as primaryKey.
  auto exported = d->keyd("POST", "/derivedkey/export", Json{{"keyHandle", handle}});
  REQUIRE(exported.status == 200);
  CHECK(edge::base64::decode(exported.json["key"].get<std::string>()).value() == primary);

  // Same answer for root through GET /identities/modules/{id}; survives a restart.
  d->stop_identityd();
  d->start_identityd();
  r = d->call("GET", api("/identities/modules/mod1?type=aziot"));
  REQUIRE(r.status == 200);
  CHECK(d->hmac_with_handle(r.json["spec"]["auth"]["keyHandle"], "hello") ==
        edge::crypto::hmac_sha256(primary, "hello").value());
}

TEST_CASE("identityd bad requests get clear errors and change nothing", "[integration]") {
  auto d = manual_daemons();
  CHECK(d->call("GET", "/identities/identity").status == 400);
  CHECK(d->call("GET", "/identities/identity?api-version=2019-01-01").status == 400);
  CHECK(d->call("GET", api("/identities/nothing")).status == 404);
  CHECK(d->call("PATCH", api("/identities/identity")).status == 400);
  auto r = d->call("GET", api("/identities/modules/mod1"));
  CHECK(r.status == 400);
  CHECK(r.json["message"].get<std::string>().find("type") != std::string::npos);
  CHECK(d->call("GET", api("/identities/modules/mod1?type=robot")).status == 400);
  CHECK(d->call("POST", api("/identities/modules")).status == 400);
  CHECK(d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}}).status == 422);
  CHECK(
      d->call("POST", api("/identities/modules"), Json{{"type", "x"}, {"moduleId", "m"}}).status ==
      400);
  CHECK(d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", " "}})
            .status == 400);
  CHECK(d->call("POST", api("/identities/modules"),
                Json{{"type", "aziot"}, {"moduleId", std::string(200, 'm')}})
            .status == 400);
  CHECK(d->call("POST", api("/identities/device"), Json{{"nottype", 1}}).status == 422);
  // PUT needs JSON: another content type -> 415.
  edge::http::UnixClient c(d->identityd_socket);
  auto raw = c.request_raw("PUT", api("/identities/modules/mod1?type=aziot"), "{}", "text/plain");
  REQUIRE(raw);
  CHECK(raw->status == 415);
  raw = c.request_raw("POST", api("/identities/modules"), "{not json", "application/json");
  REQUIRE(raw);
  CHECK(raw->status == 422);
  // Hub unreachable: hub-backed calls are 404 naming the hub, quickly.
  r = d->call("POST", api("/identities/modules"), Json{{"type", "aziot"}, {"moduleId", "m9"}});
  CHECK(r.status == 404);
  CHECK(r.json["message"].get<std::string>().find("127.255.255.254") != std::string::npos);
  CHECK(d->call("GET", api("/identities/identity")).status == 200);
}

TEST_CASE("identityd missing device key and bad configs", "[integration]") {
  SECTION("device key missing in keyd: the identity call fails, the daemon keeps serving") {
    Daemons d(manual_sas() + default_principals());
    auto r = d.call("GET", api("/identities/identity"));
    CHECK(r.status == 404);
    CHECK(r.json["message"].get<std::string>().find("keyd") != std::string::npos);
    CHECK(d.call("GET", api("/trust-bundle")).status == 200);
  }
  SECTION("device key file missing: keyd's error is named, the daemon keeps serving") {
    Daemons d(manual_sas() + default_principals(), true,
              "[preloaded_keys]\ndevice-id = \"file:///nonexistent/device-id\"\n");
    auto r = d.call("GET", api("/identities/identity"));
    CHECK(r.status == 404);
    CHECK(r.json["message"].get<std::string>().find("keyd") != std::string::npos);
    CHECK(d.call("GET", api("/trust-bundle")).status == 200);
  }
  SECTION("unknown provisioning source exits with the bad-config code") {
    Daemons d("[provisioning]\nsource = \"carrier-pigeon\"\n", false);
    CHECK(d.start_identityd_expect_exit() == 153);
    CHECK(d.identityd_log().find("carrier-pigeon") != std::string::npos);
  }
  SECTION("malformed toml exits with the bad-config code") {
    Daemons d("[provisioning\nsource = ", false);
    CHECK(d.start_identityd_expect_exit() == 153);
  }
}

TEST_CASE("identityd dps start uses the saved provisioning state when offline", "[integration]") {
  const std::string dps =
      "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://127.255.255.254/\"\n"
      "scope_id = \"0ne00000001\"\n[provisioning.attestation]\nmethod = \"symmetric_key\"\n"
      "registration_id = \"reg1\"\nsymmetric_key = \"device-id\"\n";
  SECTION("no saved state and no DPS: startup fails with the DPS error") {
    Daemons d(dps, false);
    d.import_key("device-id", kDeviceKey);
    CHECK(d.start_identityd_expect_exit() == 1);
    CHECK(d.identityd_log().find("DPS") != std::string::npos);
  }
  SECTION("saved state for this configuration: starts offline and says so") {
    Daemons d(dps, false);
    d.import_key("device-id", kDeviceKey);
    auto parsed = identityd::parse_config("hostname = \"h\"\nhomedir = \"/x\"\n" + dps, "c");
    REQUIRE(parsed);
    edge::test::run("mkdir -p " + d.homedir + " && chmod 700 " + d.homedir);
    Json saved{{"fingerprint", identityd::provisioning_fingerprint(parsed->provisioning)},
               {"hubName", "assigned-hub.example"},
               {"deviceId", "reg1"},
               {"gatewayHost", "assigned-hub.example"},
               {"auth", "sas"},
               {"keyId", "device-id"},
               {"certId", ""},
               {"provisioning",
                {{"source", "dps"},
                 {"auth", "symmetric_key"},
                 {"endpoint", "https://127.255.255.254/"},
                 {"scope_id", "0ne00000001"},
                 {"registration_id", "reg1"},
                 {"payload", nullptr}}}};
    edge::test::write_file(d.homedir + "/device_info", saved.dump(), 0600);
    SECTION("Dynamic (default) reuses it without calling DPS") {
      d.start_identityd();
      CHECK(d.identityd_log().find("saved provisioning state") != std::string::npos);
    }
    SECTION("AlwaysOnStartup tries DPS, then falls back to it offline") {
      edge::test::run("mkdir -p " + (d.dir / "identityd.d"));
      edge::test::write_file(d.dir / "identityd.d/10-mode.toml",
                             "auto_reprovisioning_mode = \"AlwaysOnStartup\"\n");
      d.start_identityd();
      CHECK(d.identityd_log().find("starting offline with the saved provisioning state") !=
            std::string::npos);
    }
    auto r = d.call("GET", api("/identities/identity"));
    REQUIRE(r.status == 200);
    CHECK(r.json["spec"]["hubName"] == "assigned-hub.example");
    CHECK(r.json["spec"]["deviceId"] == "reg1");
    r = d.call("GET", api("/identities/provisioning"));
    CHECK(r.json["source"] == "dps");
    CHECK(r.json["registration_id"] == "reg1");
    // Reprovision while DPS is down fails and keeps the identity.
    r = d.call("POST", api("/identities/device/reprovision"));
    CHECK(r.status == 404);
    CHECK(d.call("GET", api("/identities/identity")).json["spec"]["deviceId"] == "reg1");
  }
}

namespace {
// A TCP listener on loopback: silent (never accepts) or answering every connection with bytes.
struct Listener {
  int fd = -1;
  int port = 0;
  std::thread thread;
  explicit Listener(std::optional<std::string> answer = std::nullopt) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    if (answer)
      thread = std::thread([this, text = *answer] {
        for (;;) {
          int c = ::accept(fd, nullptr, nullptr);
          if (c < 0) return;
          [[maybe_unused]] auto n = ::write(c, text.data(), text.size());
          ::close(c);
        }
      });
  }
  ~Listener() {
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    if (thread.joinable()) thread.join();
  }
};

std::string dps_at(int port) {
  return "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://127.0.0.1:" +
         std::to_string(port) +
         "/\"\nscope_id = \"0ne00000001\"\n[provisioning.attestation]\nmethod = \"symmetric_key\"\n"
         "registration_id = \"reg1\"\nsymmetric_key = \"device-id\"\n";
}
}  // namespace

TEST_CASE("identityd dps that answers slowly or with garbage fails startup in bounded time",
          "[integration]") {
  SECTION("silent DPS") {
    Listener silent;
    Daemons d(dps_at(silent.port), false);
    d.env["AZIOT_IDENTITYD_CLOUD_TIMEOUT_MS"] = "1500";
    d.import_key("device-id", kDeviceKey);
    auto start = std::chrono::steady_clock::now();
    CHECK(d.start_identityd_expect_exit() == 1);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));
    CHECK(d.identityd_log().find("timed out") != std::string::npos);
  }
  SECTION("DPS speaking something else than TLS") {
    Listener garbage(std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"));
    Daemons d(dps_at(garbage.port), false);
    d.import_key("device-id", kDeviceKey);
    CHECK(d.start_identityd_expect_exit() == 1);
    CHECK(d.identityd_log().find("TLS handshake") != std::string::npos);
  }
}

TEST_CASE("identityd reloads principals from config.d without a restart", "[integration]") {
  auto d = manual_daemons();
  CHECK(d->call_as(1005, "GET", api("/identities/identity")).status == 401);
  edge::test::run("mkdir -p " + (d->dir / "identityd.d"));
  edge::test::write_file(d->dir / "identityd.d/50-agent.toml",
                         "[[principal]]\nuid = 1005\nname = \"newagent\"\n", 0600);
  int status = 0;
  for (int i = 0; i < 100 && status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    status = d->call_as(1005, "GET", api("/identities/identity")).status;
  }
  CHECK(status == 200);
  // A broken drop-in is ignored: the last good configuration stays.
  edge::test::write_file(d->dir / "identityd.d/60-bad.toml", "[[principal]]\nuid = \"x\"\n", 0600);
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    logged = d->identityd_log().find("Ignoring the changed configuration") != std::string::npos;
  }
  CHECK(logged);
  CHECK(d->call_as(1005, "GET", api("/identities/identity")).status == 200);
  CHECK(d->call("GET", api("/identities/identity")).status == 200);
}
