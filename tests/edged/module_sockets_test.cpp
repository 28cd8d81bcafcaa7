// Per-module workload sockets: made on start (0666, a stale file or directory in the way is
// replaced), kept while served, closed on stop, deleted on remove; names cannot escape mnt/.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "edged/module_sockets.h"
#include "tests/support/harness.h"

using edge::http::Json;

TEST_CASE("module sockets follow the module's start stop and remove", "[unit]") {
  edge::test::TempDir home;
  std::string mnt = home / "mnt";
  edged::ModuleSockets sockets(
      mnt, [](edge::http::Request& r) { return edge::http::Response::json(200, Json{{"path", r.path}}); }, 10);
  // What the engine leaves when it bind-mounted a missing socket: a directory.
  REQUIRE(edge::test::run("mkdir -p " + mnt + "/modA.sock") == 0);
  REQUIRE(sockets.start("modA"));
  struct stat st {};
  REQUIRE(::stat(sockets.path_of("modA").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0666);
  edge::http::UnixClient client(sockets.path_of("modA"));
  auto r = edge::test::call(client, "GET", "/trust-bundle?api-version=2020-07-07");
  CHECK(r.status == 200);
  CHECK(r.json["path"] == "/trust-bundle");
  REQUIRE(sockets.start("modA"));  // already served: kept, the client's connection too
  CHECK(edge::test::call(client, "GET", "/again").status == 200);
  CHECK(sockets.serving("modA"));

  sockets.stop("modA");
  CHECK_FALSE(sockets.serving("modA"));
  CHECK(edge::test::wait_for_socket(sockets.path_of("modA"), std::chrono::milliseconds(200)) == false);
  REQUIRE(sockets.start("modA"));
  sockets.remove("modA");
  CHECK(::access(sockets.path_of("modA").c_str(), F_OK) != 0);

  for (const char* bad : {"../escape", "a/b", "", ".x"}) CHECK_FALSE(sockets.start(bad));
  CHECK(edge::test::list_dir(mnt).empty());
  CHECK(::access((home.path() + "/escape.sock").c_str(), F_OK) != 0);
}
