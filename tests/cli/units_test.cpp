// Pure-logic pieces: the TOML writer's layout, URL and key-URI normalisation, connection strings.
#include <catch2/catch.hpp>

#include "cli/apply_command.h"
#include "cli/super_config.h"
#include "cli/toml_out.h"
#include "cli/uris.h"

using namespace edge::cli;

TEST_CASE("the TOML writer lays files out like upstream's serializer", "[cli][unit]") {
  Table root;
  root.set("b", "x");
  Table parent;  // only sub-tables: no header of its own
  Table child;
  child.set("k", int64_t{1});
  parent.set("child", child);
  root.set("parent", parent);
  root.set("empty", Table{});  // empty tables keep their header
  Table entry;
  entry.set("uid", int64_t{5});
  entry.set("ids", string_array({"a", "b/*"}));
  root.set("principal", Array{Value(entry), Value(entry)});
  root.set("a", true);  // values come before every table
  REQUIRE(to_toml(root) ==
          "b = \"x\"\na = true\n\n[parent.child]\nk = 1\n\n[empty]\n\n"
          "[[principal]]\nuid = 5\nids = [\"a\", \"b/*\"]\n\n[[principal]]\nuid = 5\nids = [\"a\", "
          "\"b/*\"]\n");
}

TEST_CASE("the TOML writer quotes keys and escapes strings", "[cli][unit]") {
  Table t;
  t.set("443/tcp", "v");
  t.set("content-trust-example.azurecr.io", "q\"uote");
  t.set("path", "C:\\dir");
  t.set("ctl", std::string("a\nb\x01"));
  t.set("empty", Array{});
  t.set("f", 1.0);
  REQUIRE(to_toml(t) ==
          "\"443/tcp\" = \"v\"\n\"content-trust-example.azurecr.io\" = \"q\\\"uote\"\n"
          "path = 'C:\\dir'\nctl = \"a\\nb\\u0001\"\nempty = []\nf = 1.0\n");
  // Whatever it writes parses back to the same values.
  auto parsed = toml::parse(to_toml(t));
  REQUIRE(parsed["ctl"].value_or(std::string()) == std::string("a\nb\x01"));
  REQUIRE(parsed["path"].value_or(std::string()) == "C:\\dir");
}

TEST_CASE("URLs are normalised as the url crate does", "[cli][unit]") {
  REQUIRE(*normalize_url("https://Global.Azure-Devices-Provisioning.net") ==
          "https://global.azure-devices-provisioning.net/");
  REQUIRE(*normalize_url("HTTPS://example.org:443/est") == "https://example.org/est");
  REQUIRE(*normalize_url("http://example.org:8080") == "http://example.org:8080/");
  REQUIRE(*normalize_url("file:///var/secrets/my cert.pem") == "file:///var/secrets/my%20cert.pem");
  REQUIRE(*normalize_url("file:/var/x") == "file:///var/x");
  REQUIRE(*normalize_url("unix:///var/run/docker.sock") == "unix:///var/run/docker.sock");
  REQUIRE(*normalize_url("fd://aziot-edged.mgmt.socket") == "fd://aziot-edged.mgmt.socket");
  REQUIRE(normalize_url("/var/secrets/x.pem").error().message == "relative URL without a base");
  REQUIRE(normalize_url("https://").error().message == "empty host");
  REQUIRE(normalize_url("https://host:99999/").error().message == "invalid port number");
  REQUIRE(*file_url_path("file:///var/secrets/my%20cert.pem") == "/var/secrets/my cert.pem");
  REQUIRE_FALSE(file_url_path("https://example.org/x"));
}

TEST_CASE("key locations are re-serialised as keyd receives them", "[cli][unit]") {
  REQUIRE(*normalize_key_location("file:///var/secrets/device-id.key") ==
          "file:///var/secrets/device-id.key");
  REQUIRE(*normalize_key_location("pkcs11:slot-id=0;object=local-ca?pin-value=1234") ==
          "pkcs11:slot-id=0;object=local%2Dca?pin-value=1234");
  REQUIRE(*normalize_key_location("pkcs11:token=Key pairs;object=device%20id?pin-value=1234") ==
          "pkcs11:token=Key%20pairs;object=device%20id?pin-value=1234");
  // slot-id wins over token, unknown attributes are dropped.
  REQUIRE(*normalize_key_location("pkcs11:token=t;slot-id=3;model=x") == "pkcs11:slot-id=3");
  REQUIRE(normalize_key_location("pkcs11:object=x").error().message ==
          "URI has neither [slot-id] nor [token] components");
  REQUIRE(normalize_key_location("pkcs11:slot-id=abc").error().message ==
          "slot-id path component has malformed value [abc]");
  REQUIRE(normalize_key_location("https://example.org/key").error().message ==
          "unrecognized scheme");
  REQUIRE(normalize_key_location("no-scheme").error().message == "missing scheme");
}

TEST_CASE("connection strings and symmetric keys", "[cli][unit]") {
  auto cs = parse_connection_string(
      "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=YWJj;Extra=1");
  REQUIRE(cs);
  REQUIRE(cs->hostname == "h.azure-devices.net");
  REQUIRE(cs->device_id == "d");
  REQUIRE(cs->key_bytes == "abc");
  REQUIRE(*base64_decode_ignore_pad("YWI") == "ab");  // unpadded keys of older releases
  REQUIRE_FALSE(base64_decode_ignore_pad("YW=I"));
  REQUIRE_FALSE(parse_connection_string("DeviceId=d;SharedAccessKey=YWJj"));
  REQUIRE_FALSE(parse_connection_string(""));
}

TEST_CASE("hostname rules follow RFC 1035 and the 64-character issuer limit", "[cli][unit]") {
  REQUIRE(is_rfc1035_valid("edge-1.contoso.local"));
  REQUIRE_FALSE(is_rfc1035_valid("1edge"));
  REQUIRE_FALSE(is_rfc1035_valid("edge_1"));
  REQUIRE_FALSE(is_rfc1035_valid("edge-"));
  REQUIRE_FALSE(is_rfc1035_valid("a..b"));
  REQUIRE_FALSE(is_rfc1035_valid(std::string(64, 'a')));
  REQUIRE(fits_certificate_issuer(std::string(64, 'a')));
  REQUIRE_FALSE(fits_certificate_issuer(std::string(65, 'a')));
  REQUIRE(is_ip_address("10.0.0.4"));
  REQUIRE(is_ip_address("fe80::1"));
  REQUIRE_FALSE(is_ip_address("10.0.0"));
}
