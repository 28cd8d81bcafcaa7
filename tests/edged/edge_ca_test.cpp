// The Edge CA against the real keyd and certd: a preloaded full chain from a test PKI (the seed
// check: the edge hub's server cert verifies up to the root and serves TLS to openssl s_client),
// the quickstart self-signed CA, and auto-renewal that rotates the key.
#include "edged/edge_ca.h"

#include <openssl/pem.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <random>
#include <thread>

#include "common/crypto.h"
#include "common/http/server.h"
#include "edged/csr.h"
#include "edged/workload.h"
#include "tests/edged/workload_fixture.h"

using namespace workload_test;
using edge::http::Json;

namespace {
#define REQUIRE_EMULATOR()                      \
  if (!have_emulator()) {                       \
    WARN("iothub-emulator not built: skipped"); \
    return;                                     \
  }

void sh(const std::string& cmd) {
  std::string out;
  int rc = edge::test::run("(" + cmd + ") 2>&1", &out);
  INFO(cmd << "\n" << out);
  REQUIRE(rc == 0);
}

// root -> intermediate -> Edge CA (pathlen 0), RSA-2048, in `dir`.
void make_pki(const edge::test::TempDir& dir) {
  std::string d = dir.path();
  edge::test::write_file(dir / "ext.cnf",
                         "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,"
                         "cRLSign,digitalSignature\n"
                         "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
                         "[edge]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,"
                         "keyCertSign,digitalSignature\n"
                         "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
  sh("cd " + d +
     " && openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 30 -subj "
     "'/CN=Test Root CA'"
     " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
  sh("cd " + d +
     " && openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj '/CN=Test "
     "Intermediate CA'"
     " && openssl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -out int.pem "
     "-days 30 -extfile ext.cnf -extensions ca");
  sh("cd " + d +
     " && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out edge.key"
     " && openssl req -new -key edge.key -out edge.csr -subj '/CN=Test Edge CA'"
     " && openssl x509 -req -in edge.csr -CA int.pem -CAkey int.key -CAcreateserial -out edge.pem "
     "-days 30 -extfile ext.cnf -extensions edge"
     " && cat edge.pem int.pem > edge-chain.pem");
}

struct Served {
  edge::clients::KeydClient keyd;
  edged::CertdClient certd;
  edged::IdentitydClient identityd;
  std::unique_ptr<edged::Workload> workload;
  std::unique_ptr<edge::http::Server> server;
  std::thread thread;
  std::string sock;

  Served(Stack& stack)
      : keyd(stack.keyd_socket),
        certd(stack.certd_socket),
        identityd(stack.identityd_socket),
        sock(stack.dir / "wl.sock") {
    workload = std::make_unique<edged::Workload>(
        edged::WorkloadOptions{stack.emu.host, "dev1"}, keyd, certd, identityd,
        [](const std::string&, pid_t pid) -> edge::Status {
          if (pid == ::getpid()) return {};
          return edge::fail(edge::ErrorKind::Forbidden, "forbidden");
        },
        []() -> edge::Result<Json> {
          return Json{{"modules", Json::array()}};
        });
    server = std::make_unique<edge::http::Server>(
        [this](edge::http::Request& r) { return workload->handle(r); },
        edge::http::ServerOptions{});
    REQUIRE(server->listen(*edge::uri::parse_endpoint("unix://" + sock)));
    thread = std::thread([this] { server->run(); });
  }
  ~Served() {
    server->stop();
    thread.join();
  }
  edge::test::Reply call(const std::string& method, const std::string& target,
                         const std::optional<Json>& body = std::nullopt) {
    edge::http::UnixClient c(sock);
    return edge::test::call(c, method, target, body);
  }
};

std::string public_pem_of_leaf(const std::string& pem) {
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  edge::crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert);
  return edge::crypto::public_key_to_pem(X509_get0_pubkey(cert.get())).value();
}
}  // namespace

TEST_CASE("seed check preloaded Edge CA full chain serves TLS that verifies up to the root",
          "[integration][emulator]") {
  REQUIRE_EMULATOR();
  edge::test::TempDir pki;
  make_pki(pki);
  StackOptions o;
  o.keyd_extra = "[preloaded_keys]\naziot-edged-ca = \"file://" + pki / "edge.key" + "\"\n";
  o.certd_extra = "[preloaded_certs]\naziot-edged-ca = \"file://" + pki / "edge-chain.pem" +
                  "\"\n"
                  "trust-bundle-user = \"file://" +
                  pki / "root.pem" +
                  "\"\n"
                  "aziot-edged-trust-bundle = [\"aziot-edged-ca\", \"trust-bundle-user\"]\n";
  Stack stack(o);
  edge::clients::KeydClient keyd(stack.keyd_socket);
  edged::CertdClient certd(stack.certd_socket);
  edged::EdgeCa ca({}, "dev1", keyd, certd);
  REQUIRE(ca.ensure());
  CHECK(certd.get("aziot-edged-ca").value() ==
        edge::test::read_file(pki / "edge-chain.pem"));  // untouched

  Served w(stack);
  auto r = w.call("POST", api("/modules/$edgeHub/genid/1/certificate/server", "2020-07-07"),
                  Json{{"commonName", "edgehost"}});
  INFO(r.body << stack.log("certd"));
  REQUIRE(r.status == 201);
  std::string full = r.json["certificate"];
  auto leaf_end = full.find("-----END CERTIFICATE-----") + 26;
  edge::test::write_file(pki / "leaf.pem", full.substr(0, leaf_end));
  edge::test::write_file(pki / "chain.pem", full.substr(leaf_end));
  edge::test::write_file(pki / "leaf.key", r.json["privateKey"]["bytes"].get<std::string>(), 0600);
  CHECK(full.substr(leaf_end).find("-----BEGIN CERTIFICATE-----") != std::string::npos);

  std::string out;
  CHECK(edge::test::run("openssl verify -CAfile " + pki / "root.pem" + " -untrusted " +
                            pki / "chain.pem" + " " + pki / "leaf.pem",
                        &out) == 0);
  CHECK_THAT(out, Catch::Contains(": OK"));
  CHECK(edge::test::run(
            "openssl x509 -in " + pki / "leaf.pem" + " -noout -subject -nameopt RFC2253", &out) ==
        0);
  CHECK_THAT(out, Catch::Contains("CN=edgehost"));
  // The trust bundle modules get = Edge CA chain + the user's root.
  auto bundle = w.call("GET", api("/trust-bundle"));
  CHECK_THAT(bundle.json["certificate"].get<std::string>(),
             Catch::Contains(edge::test::read_file(pki / "root.pem")));

  // A TLS server with it passes a strict client that trusts only the root.
  // A private loopback address of its own: a random port may be taken (ephemeral range).
  std::random_device rd;
  std::string addr = "127." + std::to_string(20 + rd() % 200) + "." + std::to_string(rd() % 250 + 1) +
                     "." + std::to_string(rd() % 250 + 1) + ":4433";
  std::string openssl;
  REQUIRE(edge::test::run("command -v openssl | tr -d '\\n'", &openssl) == 0);
  edge::test::Process server(
      {openssl, "s_server", "-accept", addr, "-cert",
       pki / "leaf.pem", "-cert_chain", pki / "chain.pem", "-key", pki / "leaf.key", "-www"},
      {}, pki / "s_server.log");
  int rc = 1;
  for (int i = 0; i < 50 && rc != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    rc = edge::test::run("echo | openssl s_client -connect " + addr +
                             " -verify_return_error -CAfile " + pki / "root.pem" +
                             " -servername edgehost -verify_hostname edgehost 2>&1",
                         &out);
  }
  INFO(out << edge::test::read_file(pki / "s_server.log"));
  CHECK(rc == 0);
  CHECK_THAT(out, Catch::Contains("Verify return code: 0 (ok)"));
  // And one that trusts something else refuses it.
  CHECK(edge::test::run("echo | openssl s_client -connect " + addr +
                        " -verify_return_error -CAfile " + stack.emu.ca() + " >/dev/null 2>&1") !=
        0);
  server.stop();
}

TEST_CASE("quickstart Edge CA is issued once through certd with its key in keyd",
          "[integration][emulator]") {
  REQUIRE_EMULATOR();
  Stack stack;
  edge::clients::KeydClient keyd(stack.keyd_socket);
  edged::CertdClient certd(stack.certd_socket);
  CHECK_FALSE(certd.get("aziot-edged-ca"));
  edged::EdgeCa ca({}, "dev1", keyd, certd);
  REQUIRE(ca.ensure());
  std::string pem = certd.get("aziot-edged-ca").value();
  std::string out;
  edge::test::write_file(stack.dir / "ca.pem", pem);
  REQUIRE(edge::test::run("openssl x509 -in " + stack.dir / "ca.pem" + " -noout -text", &out) == 0);
  CHECK_THAT(out, Catch::Contains("Subject: CN = aziot-edge CA dev1"));
  CHECK_THAT(out, Catch::Contains("CA:TRUE, pathlen:0"));
  CHECK_THAT(out, Catch::Contains("Digital Signature, Certificate Sign"));
  CHECK_THAT(out, Catch::Contains("Public-Key: (2048 bit)"));
  // The cert's key is keyd's key pair.
  auto handle = keyd.load_key_pair("aziot-edged-ca");
  REQUIRE(handle);
  CHECK(edge::crypto::public_key_to_pem(keyd.public_key(*handle)->get()).value() ==
        public_pem_of_leaf(pem));
  // A second start keeps it.
  REQUIRE(ca.ensure());
  CHECK(certd.get("aziot-edged-ca").value() == pem);

  // The quickstart trust bundle verifies a module's server cert.
  Served w(stack);
  auto r = w.call("POST", api("/modules/mod1/genid/1/certificate/server"),
                  Json{{"commonName", "edgehost"}});
  REQUIRE(r.status == 201);
  edge::test::write_file(stack.dir / "server.pem", r.json["certificate"].get<std::string>());
  edge::test::write_file(
      stack.dir / "bundle.pem",
      w.call("GET", api("/trust-bundle")).json["certificate"].get<std::string>());
  CHECK(edge::test::run("openssl verify -CAfile " + stack.dir / "bundle.pem" + " " +
                        stack.dir / "server.pem") == 0);
}

TEST_CASE("Edge CA renewal rotates the key and the new chain issues verifiable certs",
          "[integration][emulator]") {
  REQUIRE_EMULATOR();
  StackOptions o;
  o.certd_extra =
      "[cert_issuance]\naziot-edged-ca = { method = \"self_signed\", expiry_days = 1 }\n"
      "aziot-edged-ca-temp = { method = \"self_signed\", expiry_days = 1 }\n"
      "[preloaded_certs]\naziot-edged-trust-bundle = [\"aziot-edged-ca\"]\n";
  Stack stack(o);
  edge::clients::KeydClient keyd(stack.keyd_socket);
  edged::CertdClient certd(stack.certd_socket);
  edged::EdgeCaSettings settings;
  settings.subject = {{"CN", "renewing CA"}};
  settings.auto_renew =
      edged::AutoRenew{true, {0, 2 * 86400}, {4, 0}};  // 2 days before expiry: due at once
  edged::EdgeCa ca(settings, "dev1", keyd, certd);
  REQUIRE(ca.ensure());
  std::string old_pem = certd.get("aziot-edged-ca").value();
  edge::test::write_file(stack.dir / "old.pem", old_pem);

  std::atomic<int> renewed{0};
  ca.start_auto_renew([&] { ++renewed; });
  for (int i = 0; i < 100 && renewed == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO(stack.log("certd"));
  REQUIRE(renewed == 1);
  ca.stop();
  std::string new_pem = certd.get("aziot-edged-ca").value();
  CHECK(new_pem != old_pem);
  CHECK(public_pem_of_leaf(new_pem) != public_pem_of_leaf(old_pem));  // a new key
  auto handle = keyd.load_key_pair("aziot-edged-ca");
  REQUIRE(handle);
  CHECK(edge::crypto::public_key_to_pem(keyd.public_key(*handle)->get()).value() ==
        public_pem_of_leaf(new_pem));
  CHECK_FALSE(keyd.load_key_pair("aziot-edged-ca-temp"));  // moved into place
  CHECK_FALSE(certd.get("aziot-edged-ca-temp"));           // temporary cert removed
  std::string out;
  edge::test::write_file(stack.dir / "new.pem", new_pem);
  REQUIRE(edge::test::run("openssl x509 -in " + stack.dir / "new.pem" + " -noout -subject", &out) ==
          0);
  CHECK_THAT(out, Catch::Contains("CN = renewing CA"));  // the old subject

  // Module certs issued now chain to the renewed CA.
  Served w(stack);
  auto r = w.call("POST", api("/modules/mod1/genid/1/certificate/server"),
                  Json{{"commonName", "edgehost"}});
  REQUIRE(r.status == 201);
  edge::test::write_file(stack.dir / "server.pem", r.json["certificate"].get<std::string>());
  CHECK(edge::test::run("openssl verify -CAfile " + stack.dir / "new.pem" + " " +
                        stack.dir / "server.pem") == 0);
  CHECK(edge::test::run("openssl verify -CAfile " + stack.dir / "old.pem" + " " +
                        stack.dir / "server.pem" + " 2>/dev/null") != 0);

  // Without rotation a self-signed temp cert cannot be issued (certd signs "-temp" certs with
  // the "-temp" key pair): the renewal fails and the current CA stays as it is.
  edged::EdgeCaSettings keep = settings;
  keep.auto_renew->rotate_key = false;
  edged::EdgeCa same_key(keep, "dev1", keyd, certd);
  CHECK_FALSE(same_key.renew());
  CHECK(certd.get("aziot-edged-ca").value() == new_pem);
}
