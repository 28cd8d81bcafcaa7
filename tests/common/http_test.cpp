// The HTTP layer driven over a real Unix socket, as the daemons' clients see it.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <thread>

#include "common/http/client.h"
#include "common/http/router.h"
#include "common/http/server.h"
#include "tests/support/harness.h"

using namespace edge;
using namespace edge::http;

namespace {
struct TestServer {
  test::TempDir dir;
  std::string sock = dir / "t.sock";
  Router router{{"2020-09-01", "2021-05-01"}};
  std::unique_ptr<Server> server;
  std::thread thread;

  explicit TestServer(ServerOptions options = {}) {
    router.add("GET", "/echo/{id}", {"2020-09-01", ""}, [](Request& r) -> Result<Response> {
      return Response::json(200, Json{{"id", r.params["id"]}, {"uid", r.peer.uid}, {"pid", r.peer.pid}});
    });
    router.add("POST", "/echo/{id}", {"2021-05-01", ""}, [](Request& r) -> Result<Response> {
      auto* body = EDGE_TRY(require_body(r));
      return Response::json(200, *body);
    });
    router.add("PUT", "/put", {"2020-09-01", ""}, [](Request& r) -> Result<Response> {
      return Response::json(201, *r.json);
    });
    router.add("GET", "/slow", {"2020-09-01", ""}, [](Request&) -> Result<Response> {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      return Response::empty(204);
    });
    router.add("GET", "/fail", {"2020-09-01", ""}, [](Request&) -> Result<Response> {
      return internal("secret detail");
    });
    server = std::make_unique<Server>([this](Request& r) { return router.dispatch(r); }, options);
    REQUIRE(server->listen(*uri::parse_endpoint("unix://" + sock)));
    thread = std::thread([this] { server->run(); });
  }
  ~TestServer() {
    server->stop();
    thread.join();
  }
};

std::string raw_exchange(const std::string& sock, const std::string& wire, int wait_ms = 2000) {
  int fd = connect_unix(sock);
  if (fd < 0) return "";
  ::send(fd, wire.data(), wire.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  timeval tv{wait_ms / 1000, (wait_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}
}  // namespace

TEST_CASE("router: api-version and path errors as upstream", "[integration]") {
  TestServer s;
  UnixClient c(s.sock);
  auto r = test::call(c, "GET", "/echo/a");
  CHECK(r.status == 400);
  CHECK(r.json["message"] == "api-version not specified");
  r = test::call(c, "GET", "/echo/a?api-version=1999-01-01");
  CHECK(r.status == 400);
  CHECK(r.json["message"] == "invalid api-version \"1999-01-01\"");
  r = test::call(c, "GET", "/nothing?api-version=2020-09-01");
  CHECK(r.status == 404);
  CHECK(r.json["message"] == "not found");
  // POST /echo exists only from 2021-05-01: the older version does not see it.
  r = test::call(c, "POST", "/echo/a?api-version=2020-09-01", Json{{"a", 1}});
  CHECK(r.status == 400);
  CHECK(r.json["message"] == "method not allowed");
  r = test::call(c, "DELETE", "/echo/a?api-version=2021-05-01");
  CHECK(r.status == 400);
  CHECK(r.json["message"] == "method not allowed");
}

TEST_CASE("router: path parameters are decoded and peer credentials come from the socket",
          "[integration]") {
  TestServer s;
  UnixClient c(s.sock);
  auto r = test::call(c, "GET", "/echo/filter%241?api-version=2020-09-01");
  REQUIRE(r.status == 200);
  CHECK(r.json["id"] == "filter$1");
  CHECK(r.json["uid"] == getuid());
  CHECK(r.json["pid"] == getpid());
  // A client cannot spoof its identity with headers.
  auto raw = c.request("GET", "/echo/x?api-version=2020-09-01", std::nullopt,
                       {{"REMOTE_PORT", "1"}, {"X-Uid", "0"}});
  REQUIRE(raw);
  CHECK(raw->json()->at("pid") == getpid());
}

TEST_CASE("router: body rules for 422 415 and missing bodies", "[integration]") {
  TestServer s;
  UnixClient c(s.sock);
  auto r = c.request_raw("POST", "/echo/a?api-version=2021-05-01", "{not json", "application/json");
  REQUIRE(r);
  CHECK(r->status == 422);
  r = c.request_raw("POST", "/echo/a?api-version=2021-05-01", "", "");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->message() == "missing request body");
  r = c.request_raw("PUT", "/put?api-version=2020-09-01", "{}", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK(r->message() == "request body must be application/json");
  // A POST body that is not JSON-typed is ignored, as upstream.
  r = c.request_raw("POST", "/echo/a?api-version=2021-05-01", "{}", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->message() == "missing request body");
  r = c.request_raw("PUT", "/put?api-version=2020-09-01", "", "application/json");
  REQUIRE(r);
  CHECK(r->status == 422);
  r = c.request_raw("PUT", "/put?api-version=2020-09-01", "{\"k\":2}", "application/json; charset=utf-8");
  REQUIRE(r);
  CHECK(r->status == 201);
  std::string deep(200, '[');
  r = c.request_raw("POST", "/echo/a?api-version=2021-05-01", deep, "application/json");
  REQUIRE(r);
  CHECK(r->status == 422);
  // Internal errors do not leak details.
  r = c.request("GET", "/fail?api-version=2020-09-01");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->message() == "internal error");
}

TEST_CASE("server: oversized malformed and slow requests", "[integration]") {
  ServerOptions opts;
  opts.limits.max_body = 1024;
  opts.limits.read_timeout = std::chrono::milliseconds(300);
  TestServer s(opts);
  std::string big(2048, 'a');
  auto out = raw_exchange(s.sock, "POST /echo/a?api-version=2021-05-01 HTTP/1.1\r\nContent-Length: 2048\r\n\r\n" + big);
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 413"));
  out = raw_exchange(s.sock, "garbage\r\n\r\n");
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 400"));
  out = raw_exchange(s.sock, "GET /echo/a HTTP/1.1\r\nbad header line\r\n\r\n");
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 400"));
  out = raw_exchange(s.sock, "POST /echo/a?api-version=2021-05-01 HTTP/1.1\r\nContent-Length: 10\r\n\r\n{\"a\"");
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 408"));
  out = raw_exchange(s.sock, "GET /echo/a HTTP/1.1\r\nContent-Length: -5\r\n\r\n");
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 400"));
  // Chunked request bodies are accepted.
  out = raw_exchange(s.sock, "POST /echo/a?api-version=2021-05-01 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
  CHECK_THAT(out, Catch::StartsWith("HTTP/1.1 200") && Catch::EndsWith("{\"a\":1}"));
  // The server still answers normally.
  UnixClient c(s.sock);
  CHECK(test::call(c, "GET", "/echo/z?api-version=2020-09-01").status == 200);
}

TEST_CASE("server: per-uid connection cap closes excess connections without a reply",
          "[integration]") {
  ServerOptions opts;
  opts.max_requests_per_uid = 2;
  TestServer s(opts);
  int a = connect_unix(s.sock), b = connect_unix(s.sock);
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto out = raw_exchange(s.sock, "GET /echo/a?api-version=2020-09-01 HTTP/1.1\r\n\r\n", 1000);
  CHECK(out.empty());
  ::close(a);
  ::close(b);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  UnixClient c(s.sock);
  CHECK(test::call(c, "GET", "/echo/z?api-version=2020-09-01").status == 200);
}

TEST_CASE("client: keep-alive reuse and reconnect", "[integration]") {
  TestServer s;
  UnixClient c(s.sock);
  for (int i = 0; i < 50; ++i) REQUIRE(test::call(c, "GET", "/echo/k?api-version=2020-09-01").status == 200);
  UnixClient none(s.dir / "missing.sock");
  auto r = none.request("GET", "/echo/x?api-version=2020-09-01");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == ErrorKind::Unavailable);
}
