// common/cloud's HTTP/1.1 exchange over any ByteStream (the agent puts Mbed TLS under it): the
// request written, responses read in small pieces, and hostile answers refused with a clear error.
#include "common/cloud/exchange.h"

#include <catch2/catch.hpp>

using edge::ErrorKind;
using edge::cloud::ByteStream;
using edge::cloud::exchange;
using edge::cloud::Url;

namespace {
// Plays a canned answer back a few bytes at a time, then the end of the stream.
class ScriptedStream : public ByteStream {
 public:
  explicit ScriptedStream(std::string answer) : answer_(std::move(answer)) {}
  edge::Status write(std::string_view data) override {
    written += data;
    return {};
  }
  edge::Result<size_t> read(char* buf, size_t size) override {
    size_t n = std::min({size, answer_.size() - at_, size_t{7}});
    answer_.copy(buf, n, at_);
    at_ += n;
    return n;
  }
  std::string written;

 private:
  std::string answer_;
  size_t at_ = 0;
};

edge::Result<edge::cloud::Response> answer(const std::string& text, size_t max = 1024) {
  ScriptedStream s(text);
  return exchange(s, "GET", Url{"blob.example", 443, "/c/b?sig=x"}, {}, "", max, "server");
}
}  // namespace

TEST_CASE("the http exchange writes the request and reads the three body framings", "[unit]") {
  ScriptedStream s(
      "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-Ms-Request-Id: r1\r\n\r\nokEXTRA");
  auto r = exchange(s, "PUT", Url{"blob.example", 8443, "/c/b?sig=x"},
                    {{"x-ms-blob-type", "BlockBlob"}}, "body", 1024, "server");
  REQUIRE(r);
  CHECK(s.written ==
        "PUT /c/b?sig=x HTTP/1.1\r\nHost: blob.example:8443\r\nConnection: close\r\n"
        "x-ms-blob-type: BlockBlob\r\nContent-Length: 4\r\n\r\nbody");
  CHECK(r->status == 201);
  CHECK(r->body == "ok");
  REQUIRE(r->header("x-ms-request-id"));
  CHECK(*r->header("x-ms-request-id") == "r1");

  auto chunked = answer(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  REQUIRE(chunked);
  CHECK(chunked->body == "abcde");
  auto to_close = answer("HTTP/1.0 200 OK\r\n\r\nuntil the end");
  REQUIRE(to_close);
  CHECK(to_close->body == "until the end");
  auto empty = answer("HTTP/1.1 204 No Content\r\n\r\n");
  REQUIRE(empty);
  CHECK(empty->body.empty());
}

TEST_CASE("the http exchange refuses hostile answers and bad headers", "[unit]") {
  struct Case {
    const char* what;
    std::string text;
    ErrorKind kind;
  };
  std::vector<Case> cases = {
      {"nothing", "", ErrorKind::Unavailable},
      {"not http", "SSH-2.0-OpenSSH\r\n\r\n", ErrorKind::InvalidParameter},
      {"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", ErrorKind::InvalidParameter},
      {"header without colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", ErrorKind::InvalidParameter},
      {"endless head", "HTTP/1.1 200 OK\r\nX: " + std::string(40000, 'a'),
       ErrorKind::PayloadTooLarge},
      {"too many headers",
       "HTTP/1.1 200 OK\r\n" +
           [] {
             std::string h;
             for (int i = 0; i < 300; ++i) h += "X-" + std::to_string(i) + ": v\r\n";
             return h;
           }() +
           "\r\n",
       ErrorKind::InvalidParameter},
      {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ErrorKind::InvalidParameter},
      {"length over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n",
       ErrorKind::PayloadTooLarge},
      {"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", ErrorKind::Unavailable},
      {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       ErrorKind::InvalidParameter},
      {"chunks over the limit",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" + std::string(2048, 'a') +
           "\r\n0\r\n\r\n",
       ErrorKind::PayloadTooLarge},
      {"body to the close over the limit", "HTTP/1.1 200 OK\r\n\r\n" + std::string(2000, 'a'),
       ErrorKind::PayloadTooLarge},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto r = answer(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == c.kind);
    CHECK_THAT(r.error().message, Catch::Contains("server"));
  }
  // A header that would split the request is refused before anything is sent.
  ScriptedStream s("HTTP/1.1 200 OK\r\n\r\n");
  auto split = exchange(s, "GET", Url{"blob.example", 443, "/"}, {{"X", "a\r\nInjected: 1"}}, "",
                        1024, "server");
  REQUIRE_FALSE(split);
  CHECK(split.error().kind == ErrorKind::InvalidParameter);
  CHECK(s.written.empty());
}
