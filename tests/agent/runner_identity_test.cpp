// The runner's module-identity handling (notes §2.5) against a stand-in for edged's management
// API that records what it is asked: edged's identity routes are being written on another
// branch, so this checks the agent's side of the wire.
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "agent/runner.h"
#include "common/http/router.h"
#include "common/http/server.h"
#include "tests/support/harness.h"

using namespace agent;
using edge::http::Request;
using edge::http::Response;

namespace {
struct FakeEdged {
  std::mutex m;
  std::map<std::string, Json> modules;     // name -> ModuleSpec as created
  std::map<std::string, Json> identities;  // moduleId -> identity
  std::vector<std::string> calls;
  edge::http::Router router{{"2022-08-03"}};

  FakeEdged() {
    auto route = [&](const char* method, const char* path, auto f) {
      router.add(
          method, path, {"2022-08-03", ""},
          [this, method, f](Request& r) -> edge::Result<Response> {
            std::lock_guard lock(m);
            calls.push_back(std::string(method) + " " + r.target.substr(0, r.target.find('?')));
            return f(r);
          });
    };
    route("GET", "/modules", [&](Request&) {
      Json list = Json::array();
      for (const auto& [n, spec] : modules)
        list.push_back({{"name", n},
                        {"status",
                         {{"runtimeStatus", {{"status", "running"}}},
                          {"startTime", "2026-01-01T00:00:00Z"}}}});
      return Response::json(200, Json{{"modules", list}});
    });
    route("POST", "/modules", [&](Request& r) {
      modules[(*r.json)["name"]] = *r.json;
      return Response::json(201, Json::object());
    });
    route("POST", "/modules/{name}/start", [&](Request&) { return Response::empty(204); });
    route("POST", "/modules/{name}/stop", [&](Request&) { return Response::empty(204); });
    route("DELETE", "/modules/{name}", [&](Request& r) {
      modules.erase(r.params["name"]);
      return Response::empty(204);
    });
    route("GET", "/identities", [&](Request&) {
      Json list = Json::array();
      for (const auto& [id, i] : identities) list.push_back(i);
      return Response::json(200, Json{{"identities", list}});
    });
    route("POST", "/identities", [&](Request& r) {
      std::string id = (*r.json)["moduleId"];
      if (id == "refused") return Response::error(500, "the hub is unreachable");
      identities[id] = Json{{"moduleId", id},
                            {"managedBy", (*r.json)["managedBy"]},
                            {"generationId", "gen-" + id},
                            {"authType", "Sas"}};
      return Response::json(200, identities[id]);
    });
    route("PUT", "/identities/{id}", [&](Request& r) {
      auto it = identities.find(r.params["id"]);
      if (it == identities.end()) return Response::error(404, "no such identity");
      return Response::json(200, it->second);
    });
    route("DELETE", "/identities/{id}", [&](Request& r) {
      identities.erase(r.params["id"]);
      return Response::empty(204);
    });
  }
};

Module user_module(const std::string& name) {
  Module m;
  m.name = name;
  m.image = "reg.example.test/x:1";
  m.pull_on_create = false;
  m.restart_policy = RestartPolicy::Always;
  return m;
}
}  // namespace

TEST_CASE("module identities are created for new modules and deleted with them", "[integration]") {
  edge::test::TempDir dir;
  FakeEdged edged;

  edged.identities["manual"] =
      Json{{"moduleId", "manual"}, {"managedBy", "user"}, {"generationId", "g0"}};
  edge::http::Server server([&](Request& r) { return edged.router.dispatch(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "mgmt.sock")));
  std::thread t([&] { server.run(); });
  struct Stop {
    edge::http::Server& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stop{server, t};

  Runner runner(
      RunnerOptions{dir / "mgmt.sock", dir.path(), AgentEnvironment{}, RestartSettings{}});
  Deployment d;
  d.modules["a"] = user_module("a");
  d.modules["refused"] = user_module("refused");
  d.modules["manual"] = user_module("manual");
  auto pass = runner.reconcile(d, 1, 1'000'000);
  REQUIRE(pass);
  CHECK(pass->skipped == 1);  // no identity, no container: as upstream, retried next pass
  std::unique_lock lock(edged.m);
  REQUIRE(edged.modules.count("a"));
  CHECK_FALSE(edged.modules.count("refused"));
  CHECK(edged.identities["a"]["managedBy"] == "IotEdge");
  auto env_of = [&](const std::string& n) {
    std::map<std::string, std::string> env;
    for (const auto& e : edged.modules[n]["config"]["env"]) env[e["key"]] = e["value"];
    return env;
  };
  CHECK(env_of("a")["IOTEDGE_MODULEGENERATIONID"] == "gen-a");
  CHECK(env_of("manual")["IOTEDGE_MODULEGENERATIONID"] ==
        "g0");  // an existing identity is updated, not made
  CHECK(std::count(edged.calls.begin(), edged.calls.end(), "POST /identities") ==
        2);  // a and refused
  CHECK(std::find(edged.calls.begin(), edged.calls.end(), "PUT /identities/manual") !=
        edged.calls.end());
  edged.calls.clear();
  lock.unlock();

  // The per-module state for reported properties, as of the next pass.
  REQUIRE(runner.reconcile(d, 1, 1'001'000));
  auto states = runner.module_states();
  REQUIRE(states.count("a"));
  CHECK(states["a"].runtime_status == "running");
  CHECK(states["a"].last_start_time_utc == "2026-01-01T00:00:00Z");
  CHECK(states["a"].restart_count == 0);
  CHECK(states["a"].image == "reg.example.test/x:1");
  CHECK_FALSE(states.count("refused"));

  // Removing the modules deletes the identities the agent manages, and no other.
  auto removal = runner.reconcile(Deployment{}, 2, 2'000'000);
  lock.lock();
  REQUIRE(removal);
  CHECK(edged.modules.empty());
  CHECK_FALSE(edged.identities.count("a"));
  CHECK(edged.identities.count("manual"));
  CHECK(std::find(edged.calls.begin(), edged.calls.end(), "DELETE /identities/a") !=
        edged.calls.end());
}

TEST_CASE("a local deployment runs modules whose identity cannot be made", "[integration]") {
  edge::test::TempDir dir;
  FakeEdged edged;
  edge::http::Server server([&](Request& r) { return edged.router.dispatch(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "local.sock")));
  std::thread t([&] { server.run(); });
  RunnerOptions options{dir / "local.sock", dir.path(), AgentEnvironment{}, RestartSettings{}};
  options.require_identities = false;
  Runner runner(options);
  Deployment d;
  d.modules["refused"] = user_module("refused");
  auto pass = runner.reconcile(d, 1, 1'000'000);
  server.stop();
  t.join();
  REQUIRE(pass);
  CHECK(pass->skipped == 0);
  CHECK(edged.modules.count("refused"));
}
