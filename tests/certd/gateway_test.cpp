// The transparent-gateway / nested-hierarchy scenario of seeds 001 and 002: an admin's test PKI
// (root -> intermediate -> Edge CA "gateway.ca" with its key) preloaded from file:// paths,
// the edge hub's server cert (CN = hostname) issued under it, and a real TLS handshake.
#include <catch2/catch.hpp>
#include <regex>
#include <thread>

#include "certd/issue.h"
#include "tests/certd/fixture.h"

using namespace certd_test;
using edge::http::Json;

namespace {
const std::string kHostname = "gateway.example.test";

// The certGen.sh-style test PKI, made with the openssl CLI as an admin would.
struct TestPki {
  edge::test::TempDir dir;
  TestPki() {
    edge::test::write_file(dir / "ca.ext",
                           "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,"
                           "cRLSign,digitalSignature\n"
                           "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
    std::string d = dir.path();
    std::string script =
        "set -e; cd " + d + "\n" +
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 30 "
        "-subj /CN=Azure_IoT_Hub_CA_Cert_Test_Only -addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
        "openssl req -new -newkey rsa:2048 -nodes -keyout inter.key -out inter.csr "
        "-subj /CN=Azure_IoT_Hub_Intermediate_Cert_Test_Only\n"
        "openssl x509 -req -in inter.csr -CA root.pem -CAkey root.key -set_serial 2 -days 30 "
        "-extfile ca.ext -out inter.pem\n"
        "openssl req -new -newkey rsa:2048 -nodes -keyout gateway.key -out gateway.csr -subj "
        "/CN=gateway.ca\n"
        "openssl x509 -req -in gateway.csr -CA inter.pem -CAkey inter.key -set_serial 3 -days 30 "
        "-extfile ca.ext "
        "-out gateway.pem\n"
        "cat gateway.pem inter.pem root.pem > gateway-full-chain.pem\n";
    std::string out;
    REQUIRE(edge::test::run("sh -c '" + script + "' 2>&1", &out) == 0);
  }
  std::string file(const std::string& name) const { return edge::test::read_file(dir / name); }
};

std::string certd_config(const TestPki& pki, const std::string& edge_ca_file) {
  return "[preloaded_certs]\n"
         "aziot-edged-ca = \"file://" +
         (pki.dir / edge_ca_file) +
         "\"\n"
         "trust-bundle-user = \"file://" +
         (pki.dir / "root.pem") +
         "\"\n"
         "aziot-edged-trust-bundle = [\"aziot-edged-ca\", \"trust-bundle-user\"]\n";
}
std::string keyd_config(const TestPki& pki) {
  return "[preloaded_keys]\naziot-edged-ca = \"file://" + (pki.dir / "gateway.key") + "\"\n";
}

// Issues the edge hub's server cert under the preloaded Edge CA, serves it with openssl
// s_server on a free loopback port, and returns what s_client says (exit code in *code).
std::string handshake(Certd& certd, int* code) {
  auto handle = certd.keyd_client.load_key_pair("aziot-edged-ca");
  REQUIRE(handle);
  auto key = rsa_key();  // edged makes module keys in-process
  std::string chain = certd.issue("aziot-edged/module/$edgeHub:1:server",
                                  local_csr(key.get(), {"CN=" + kHostname, "", "", "serverAuth",
                                                        "DNS:" + kHostname + ",DNS:edgeHub"}),
                                  "aziot-edged-ca", *handle);
  auto certs = parse_pem_chain(chain);
  REQUIRE(certs.size() >= 2);
  std::string rest;
  for (size_t i = 1; i < certs.size(); ++i) rest += certd::to_pem(certs[i].get());
  edge::test::write_file(certd.dir / "server.pem", certd::to_pem(certs[0].get()));
  edge::test::write_file(certd.dir / "server-chain.pem", rest);
  edge::test::write_file(certd.dir / "server.key", private_key_pem(key.get()), 0600);

  // Port 0: the kernel picks a free port (tests run in parallel); s_server prints it.
  edge::test::Process server(
      {"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", certd.dir / "server.pem",
       "-key", certd.dir / "server.key", "-cert_chain", certd.dir / "server-chain.pem", "-naccept",
       "1", "-www"},  // -www: no reading of stdin
      {}, certd.dir / "s_server.log");
  std::smatch m;
  std::string log;
  std::regex accept_line("ACCEPT 127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 500 && !std::regex_search(log, m, accept_line); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    log = server.log();
  }
  INFO(log);
  REQUIRE(std::regex_search(log, m, accept_line));
  std::string out;
  *code =
      edge::test::run("openssl s_client -connect 127.0.0.1:" + m[1].str() + " -servername " +
                          kHostname + " -verify_return_error -CAfile " + (certd.dir / "root.pem") +
                          " -verify_hostname " + kHostname + " </dev/null 2>&1",
                      &out);
  server.stop();
  return out;
}
}  // namespace

TEST_CASE(
    "an edge hub server cert under a preloaded full-chain Edge CA passes s_client verification",
    "[integration][e2e]") {
  TestPki pki;
  Certd certd(Backend::Files, certd_config(pki, "gateway-full-chain.pem"), keyd_config(pki));
  edge::test::write_file(certd.dir / "root.pem", pki.file("root.pem"));

  // Preloaded certs read from their files; the bundle concatenates its members.
  CHECK(certd.get("aziot-edged-ca") == pki.file("gateway-full-chain.pem"));
  CHECK(certd.get("aziot-edged-trust-bundle") ==
        pki.file("gateway-full-chain.pem") + pki.file("root.pem"));

  int code = -1;
  std::string out = handshake(certd, &code);
  INFO(out);
  CHECK(code == 0);
  CHECK_THAT(out, Catch::Contains("depth=3 CN = Azure_IoT_Hub_CA_Cert_Test_Only"));
  CHECK_THAT(out, Catch::Contains("depth=2 CN = Azure_IoT_Hub_Intermediate_Cert_Test_Only"));
  CHECK_THAT(out, Catch::Contains("depth=1 CN = gateway.ca"));
  CHECK_THAT(out, Catch::Contains("depth=0 CN = " + kHostname));
  CHECK_THAT(out, Catch::Contains("Verify return code: 0 (ok)"));
  CHECK(certd.cert_files().size() == 1);  // the server cert; preloaded files are not copied
}

TEST_CASE("an Edge CA file without its chain is refused by s_client as seed 001 warns",
          "[integration][e2e]") {
  TestPki pki;
  Certd certd(Backend::Files, certd_config(pki, "gateway.pem"), keyd_config(pki));
  edge::test::write_file(certd.dir / "root.pem", pki.file("root.pem"));
  int code = -1;
  std::string out = handshake(certd, &code);
  INFO(out);
  CHECK(code != 0);
  CHECK_THAT(out, Catch::Contains("depth=1 CN = gateway.ca"));
  CHECK_THAT(out, Catch::Contains("verify error:num=20:unable to get local issuer certificate"));
}

TEST_CASE("a bundle id cannot be written or deleted", "[integration]") {
  TestPki pki;
  Certd certd(Backend::Files, certd_config(pki, "gateway-full-chain.pem"), keyd_config(pki));
  std::string bundle = certd.get("aziot-edged-trust-bundle");
  auto put = certd.call("PUT", api("/certificates/aziot-edged-trust-bundle"),
                        Json{{"pem", pki.file("root.pem")}});
  CHECK(put.status == 400);
  CHECK_THAT(put.body,
             Catch::Contains("is a preloaded list of cert ids (a bundle) and cannot be written"));
  CHECK(certd.call("DELETE", api("/certificates/aziot-edged-trust-bundle")).status == 400);
  CHECK(certd.get("aziot-edged-trust-bundle") == bundle);
  CHECK(certd.cert_files().empty());
}
