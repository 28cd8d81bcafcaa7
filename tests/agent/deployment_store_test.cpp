// The last-good store: the plain-file fallback, and the workload-encrypted store speaking the
// workload API's encrypt/decrypt wire format. edged's workload API is being written on
// another branch, so the encrypted store is exercised here against a small in-test server
// with upstream's request/response shapes (reversible, clearly not real crypto).
#include "agent/deployment_store.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.h"
#include "common/http/router.h"
#include "common/http/server.h"
#include "tests/support/harness.h"

using namespace agent;
using edge::http::Json;

TEST_CASE("the plain-file store keeps the deployment in a private file", "[unit]") {
  edge::test::TempDir dir;
  PlainFileStore store(dir / "last-good.json");
  CHECK_FALSE(store.load());
  REQUIRE(store.save("{\"version\":1}"));
  CHECK(store.load() == "{\"version\":1}");
  struct stat st {};
  REQUIRE(::stat((dir / "last-good.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(std::string(store.kind()) == "plain file");
}

TEST_CASE("without a workload API the store falls back to the plain file", "[unit]") {
  edge::test::TempDir dir;
  ::setenv("IOTEDGE_WORKLOADURI", ("unix://" + dir / "nobody.sock").c_str(), 1);
  auto store = make_deployment_store(dir.path());
  ::unsetenv("IOTEDGE_WORKLOADURI");
  CHECK(std::string(store->kind()) == "plain file");
  auto none = make_deployment_store(dir.path());
  CHECK(std::string(none->kind()) == "plain file");
}

TEST_CASE("the workload store keeps only ciphertext and reads it back", "[unit]") {
  edge::test::TempDir dir;
  // Stand-in for edged's workload API: reverses the bytes and checks the request shape.
  std::string seen_iv, seen_target;
  edge::http::Router router({"2022-08-03"});
  auto handler = [&](bool encrypt) {
    return [&, encrypt](edge::http::Request& r) -> edge::Result<edge::http::Response> {
      seen_target = r.target;
      const Json& b = *r.json;
      seen_iv = b.value("initializationVector", "");
      auto in = edge::base64::decode(b.value(encrypt ? "plaintext" : "ciphertext", ""));
      if (!in) return edge::http::Response::error(400, "invalid base64");
      std::string out(in->rbegin(), in->rend());
      return edge::http::Response::json(
          200, Json{{encrypt ? "ciphertext" : "plaintext", edge::base64::encode(out)}});
    };
  };
  router.add("POST", "/modules/{m}/genid/{g}/encrypt", {"2022-08-03", ""}, handler(true));
  router.add("POST", "/modules/{m}/genid/{g}/decrypt", {"2022-08-03", ""}, handler(false));
  edge::http::Server server([&](edge::http::Request& r) { return router.dispatch(r); }, {});
  REQUIRE(server.listen(*edge::uri::parse_endpoint("unix://" + dir / "workload.sock")));
  std::thread t([&] { server.run(); });
  struct Stop {
    edge::http::Server& s;
    std::thread& t;
    ~Stop() {
      s.stop();
      t.join();
    }
  } stop{server, t};

  ::setenv("IOTEDGE_WORKLOADURI", ("unix://" + dir / "workload.sock").c_str(), 1);
  ::setenv("IOTEDGE_MODULEGENERATIONID", "gen1", 1);
  auto store = make_deployment_store(dir.path());
  ::unsetenv("IOTEDGE_WORKLOADURI");
  ::unsetenv("IOTEDGE_MODULEGENERATIONID");
  CHECK(std::string(store->kind()) == "workload-encrypted file");
  CHECK_THAT(seen_target,
             Catch::StartsWith("/modules/%24edgeAgent/genid/gen1/encrypt?api-version="));
  std::string secret =
      R"({"version":3,"deploymentConfig":{"runtime":{"settings":{"registryCredentials":{"r":{"password":"hunter2"}}}}}})";
  REQUIRE(store->save(secret));
  std::string on_disk = edge::test::read_file(dir / "last-good.enc");
  CHECK(on_disk.find("hunter2") == std::string::npos);
  CHECK(edge::base64::decode(on_disk));
  // The IV is a 32-hex-digit GUID kept next to it, sent base64-encoded.
  std::string iv = edge::test::read_file(dir / "IOTEDGE_BACKUP_IV");
  CHECK(iv.size() == 32);
  CHECK(*edge::base64::decode(seen_iv) == iv);
  CHECK(store->load() == secret);
  // Garbage on disk: the workload refuses or answers nonsense; nothing is loaded.
  edge::test::write_file(dir / "last-good.enc", "!!not base64!!", 0600);
  CHECK_FALSE(store->load());
}
