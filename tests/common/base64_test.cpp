#include <catch2/catch.hpp>

#include "common/base64.h"
#include "common/uri.h"

using namespace edge;

TEST_CASE("base64 round trips and rejects bad input", "[unit]") {
  CHECK(base64::encode("") == "");
  CHECK(base64::encode("f") == "Zg==");
  CHECK(base64::encode("fo") == "Zm8=");
  CHECK(base64::encode("foo") == "Zm9v");
  CHECK(base64::decode("Zm9vYg==") == "foob");
  CHECK_FALSE(base64::decode("Zm9vYg"));           // padding required
  CHECK(base64::decode("Zm9vYg", true) == "foob");  // unless allowed
  CHECK_FALSE(base64::decode("Zm9v!"));
  CHECK_FALSE(base64::decode("Zh=="));  // non-canonical trailing bits
  CHECK_FALSE(base64::decode("Z"));
  CHECK(base64::encode_url("\xfb\xff") == "-_8=");
}

TEST_CASE("percent encoding and query strings", "[unit]") {
  CHECK(uri::percent_decode("filter%241") == "filter$1");
  CHECK_FALSE(uri::percent_decode("bad%2"));
  CHECK_FALSE(uri::percent_decode("bad%zz"));
  CHECK(uri::percent_encode("a/b c$") == "a%2Fb%20c%24");
  auto q = uri::parse_query("api-version=2020-09-01&x=a%20b&x=second");
  REQUIRE(q);
  CHECK(q->at("api-version") == "2020-09-01");
  CHECK(q->at("x") == "a b");
  CHECK_FALSE(uri::parse_query("a=%zz"));
  CHECK(uri::parse_endpoint("unix:///run/aziot/keyd.sock")->value == "/run/aziot/keyd.sock");
  CHECK(uri::parse_endpoint("fd://aziot-keyd.socket")->kind == uri::Endpoint::Kind::Fd);
  CHECK_FALSE(uri::parse_endpoint("http://localhost:80"));
  CHECK_FALSE(uri::parse_endpoint("unix://relative"));
}
