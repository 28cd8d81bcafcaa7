// Parsing of the workload / Edge CA part of edged's config and the small pure helpers.
#include <catch2/catch.hpp>

#include "common/config.h"
#include "edged/csr.h"
#include "edged/edge_ca.h"
#include "edged/module_sockets.h"
#include "edged/workload_config.h"

using namespace edged;

namespace {
edge::Result<WorkloadSettings> load(const std::string& text) {
  auto table = edge::config::parse(text, "edged.toml");
  if (!table) return std::unexpected(table.error());
  return load_workload_settings(*table);
}
}  // namespace

TEST_CASE("workload settings defaults are upstream's", "[unit]") {
  auto s = load("");
  REQUIRE(s);
  CHECK(s->trust_bundle_cert == "aziot-edged-trust-bundle");
  CHECK(s->manifest_trust_bundle_cert == "aziot-edged-manifest-trust-bundle");
  CHECK(s->edge_ca.cert_id == "aziot-edged-ca");
  CHECK(s->edge_ca.key_id == "aziot-edged-ca");
  CHECK(s->edge_ca.subject.empty());
  CHECK_FALSE(s->edge_ca.auto_renew);
  CHECK(s->listen_workload_uri == "fd://aziot-edged.workload.socket");
  CHECK(s->max_workload_requests == 10);
  CHECK(s->keyd_socket == "/run/aziot/keyd.sock");
  CHECK(s->identityd_socket == "/run/aziot/identityd.sock");
}

TEST_CASE("workload settings as config apply writes them", "[unit]") {
  auto s = load(R"(hostname = "my-device"
trust_bundle_cert = "aziot-edged-trust-bundle"
homedir = "/var/lib/aziot/edged"
[edge_ca]
cert = "my-ca"
key = "my-ca-key"
subject = { CN = "custom", L = "AQ" }
[edge_ca.auto_renew]
rotate_key = false
threshold = "90min"
retry = "1day"
[iotedge_max_requests]
management = 20
workload = 30
[listen]
workload_uri = "unix:///tmp/w.sock"
[endpoints]
aziot_keyd_url = "unix:///tmp/keyd.sock"
)");
  REQUIRE(s);
  CHECK(s->hostname == "my-device");
  CHECK(s->edge_ca.cert_id == "my-ca");
  CHECK(s->edge_ca.key_id == "my-ca-key");
  CHECK(s->edge_ca.subject == Subject{{"CN", "custom"}, {"L", "AQ"}});
  REQUIRE(s->edge_ca.auto_renew);
  CHECK_FALSE(s->edge_ca.auto_renew->rotate_key);
  CHECK(s->edge_ca.auto_renew->threshold.seconds == 90 * 60);
  CHECK(s->edge_ca.auto_renew->retry.seconds == 86400);
  CHECK(s->max_workload_requests == 30);
  CHECK(s->listen_workload_uri == "unix:///tmp/w.sock");
  CHECK(s->keyd_socket == "/tmp/keyd.sock");

  auto cn = load("[edge_ca]\nsubject = \"just a cn\"\n[edge_ca.auto_renew]\n");
  REQUIRE(cn);
  CHECK(cn->edge_ca.subject == Subject{{"CN", "just a cn"}});
  CHECK(cn->edge_ca.auto_renew->rotate_key);
  CHECK(cn->edge_ca.auto_renew->threshold.percent == 80);
  CHECK(cn->edge_ca.auto_renew->retry.percent == 4);
}

TEST_CASE("bad workload settings name the file line and key", "[unit]") {
  auto bad = load("\n[edge_ca.auto_renew]\nthreshold = \"1year\"\n");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("edged.toml:3") && Catch::Contains("edge_ca.auto_renew.threshold"));
  CHECK_FALSE(load("[edge_ca.auto_renew]\nretry = \"0%\"\n"));
  CHECK_FALSE(load("[edge_ca.auto_renew]\nthreshold = \"100%\"\n"));
  CHECK_FALSE(load("[edge_ca.auto_renew]\nrotate_key = \"yes\"\n"));
  CHECK_FALSE(load("[edge_ca]\nsubject = 5\n"));
  CHECK_FALSE(load("[edge_ca]\nsubject = \"\"\n"));
  CHECK_FALSE(load("[iotedge_max_requests]\nworkload = 0\n"));
  CHECK_FALSE(load("[endpoints]\naziot_certd_url = \"http://x\"\n"));
  CHECK_FALSE(load("trust_bundle_cert = []\n"));
}

TEST_CASE("renewal times parse as upstream's policy strings", "[unit]") {
  CHECK(parse_renewal_time("50%")->percent == 50);
  CHECK(parse_renewal_time("100min")->seconds == 6000);
  CHECK(parse_renewal_time("10day")->seconds == 864000);
  for (const char* bad : {"0%", "101%", "1year", "0min", "-5min", "5", "", "%", "1.5day", "5 min"})
    CHECK_FALSE(parse_renewal_time(bad));
}

TEST_CASE("renewal is due at the threshold of the lifetime", "[unit]") {
  CHECK(renewal_due(1000, 2000, {80, 0}) == 1800);
  CHECK(renewal_due(1000, 2000, {0, 300}) == 1700);
  CHECK(renewal_due(2000, 1000, {80, 0}) == 2000);  // invalid validity: due now
  CHECK(retry_seconds(0, 50000, {4, 0}) == 2000);
  CHECK(retry_seconds(0, 10, {0, 0}) == 1);
  CHECK(retry_seconds(0, 365LL * 86400, {50, 0}) == 3600);  // at most hourly
}

TEST_CASE("server certificate SANs follow the common name and module", "[unit]") {
  auto s = server_sans("edgehost", "$edgeHub");
  REQUIRE(s.size() == 2);
  CHECK(s[0].kind == SubjectAltName::Kind::Dns);
  CHECK(s[0].value == "edgehost");
  CHECK(s[1].value == "edgeHub");
  CHECK(server_sans("192.168.1.5", "m")[0].kind == SubjectAltName::Kind::Ip);
  CHECK(server_sans("fe80::1", "m")[0].kind == SubjectAltName::Kind::Ip);
  CHECK(server_sans("1.2.3", "m")[0].kind == SubjectAltName::Kind::Dns);
}

TEST_CASE("module socket names stay inside the mnt directory", "[unit]") {
  for (const char* ok : {"edgeAgent", "edgeHub", "mod_1", "a.b-c"}) CHECK(valid_module_name(ok));
  for (const char* bad : {"", "../x", "a/b", ".hidden", "$edgeAgent", "a b", "-x"}) CHECK_FALSE(valid_module_name(bad));
  CHECK_FALSE(valid_module_name(std::string(200, 'a')));
}

TEST_CASE("module certificate requests carry the requested names", "[unit]") {
  auto csr = module_csr({{"CN", "edgehost"}}, server_sans("edgehost", "$edgeHub"), Usage::ServerAuth);
  REQUIRE(csr);
  CHECK_THAT(csr->csr_pem, Catch::StartsWith("-----BEGIN CERTIFICATE REQUEST-----"));
  CHECK(EVP_PKEY_get_bits(csr->key.get()) == 2048);
  CHECK_FALSE(module_csr({{"CN", std::string(65, 'x')}}, {}, Usage::ServerAuth));
  CHECK_FALSE(module_csr({{"CN", "x"}}, {{SubjectAltName::Kind::Ip, "not-an-ip"}}, Usage::ServerAuth));
}
