// The workload API against the real keyd, certd and identityd (provisioned against the hub
// emulator): every route, its bad input and upstream's status codes. The caller check is the
// test's own rule here (this process may act as the modules in `allowed`); the engine-backed
// check is exercised in workload_docker_test.cpp.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "common/base64.h"
#include "common/crypto.h"
#include "common/http/server.h"
#include "edged/edge_ca.h"
#include "edged/workload.h"
#include "tests/edged/workload_fixture.h"

using namespace workload_test;
using edge::http::Json;

#define REQUIRE_EMULATOR()                                  \
  if (!have_emulator()) {                                   \
    WARN("iothub-emulator not built: skipped");             \
    return;                                                 \
  }

namespace {
struct Served {
  Stack& stack;
  edge::clients::KeydClient keyd{stack.keyd_socket};
  edged::CertdClient certd{stack.certd_socket};
  edged::IdentitydClient identityd{stack.identityd_socket};
  std::set<std::string> allowed;
  std::unique_ptr<edged::EdgeCa> ca;
  std::unique_ptr<edged::Workload> workload;
  std::unique_ptr<edge::http::Server> server;
  std::thread thread;
  std::string sock = stack.dir / "wl.sock";

  explicit Served(Stack& s, edged::EdgeCaSettings ca_settings = {}) : stack(s) {
    ca = std::make_unique<edged::EdgeCa>(ca_settings, "dev1", keyd, certd);
    auto ensured = ca->ensure();
    INFO((ensured ? "" : ensured.error().message) << "\n" << stack.log("certd"));
    REQUIRE(ensured);
    edged::WorkloadOptions o{stack.emu.host, "dev1"};
    o.edge_ca_cert = ca_settings.cert_id;
    o.edge_ca_key = ca_settings.key_id;
    workload = std::make_unique<edged::Workload>(
        o, keyd, certd, identityd,
        [this](const std::string& m, pid_t pid) -> edge::Status {
          if (pid == ::getpid() && allowed.contains(m)) return {};
          return edge::fail(edge::ErrorKind::Forbidden, "forbidden");
        },
        []() -> edge::Result<Json> { return Json{{"modules", Json::array()}}; });
    edge::http::ServerOptions so;
    so.socket_mode = 0666;
    server = std::make_unique<edge::http::Server>([this](edge::http::Request& r) { return workload->handle(r); }, so);
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
  // Sends only a request head announcing `length` body bytes; returns the raw answer.
  std::string head_only(const std::string& method, const std::string& target, size_t length) {
    int fd = edge::http::connect_unix(sock);
    REQUIRE(fd >= 0);
    std::string head = method + " " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(length) + "\r\n\r\n{";
    REQUIRE(::write(fd, head.data(), head.size()) == static_cast<ssize_t>(head.size()));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }
  edge::test::Reply raw(const std::string& method, const std::string& target, const std::string& body,
                        const std::string& type = "application/json") {
    edge::http::UnixClient c(sock);
    auto r = c.request_raw(method, target, body, type);
    edge::test::Reply out;
    if (!r) return out;
    out.status = r->status;
    out.body = r->body;
    if (auto j = r->json()) out.json = *j;
    return out;
  }
};

std::vector<edge::crypto::X509Ptr> parse_chain(const std::string& pem) {
  std::vector<edge::crypto::X509Ptr> out;
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* c = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) out.emplace_back(c);
  ERR_clear_error();
  return out;
}

std::string common_name(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

std::vector<std::string> sans(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)), ASN1_STRING_length(n->d.dNSName)));
    if (n->type == GEN_IPADD) out.push_back("IP:" + std::to_string(ASN1_STRING_length(n->d.iPAddress)) + "bytes");
  }
  GENERAL_NAMES_free(names);
  return out;
}

uint32_t extended_key_usage(X509* cert) {
  X509_check_purpose(cert, -1, 0);
  return X509_get_extended_key_usage(cert);
}

// Verifies leaf against `roots` with the rest of `chain` as untrusted intermediates.
bool verifies(const std::string& chain_pem, const std::string& roots_pem) {
  auto chain = parse_chain(chain_pem);
  auto roots = parse_chain(roots_pem);
  if (chain.empty() || roots.empty()) return false;
  X509_STORE* store = X509_STORE_new();
  for (auto& r : roots) X509_STORE_add_cert(store, r.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) sk_X509_push(untrusted, chain[i].get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, chain[0].get(), untrusted);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);
  return ok;
}
}  // namespace

TEST_CASE("workload sign encrypt and decrypt with the module's keys", "[integration][emulator]") {
  REQUIRE_EMULATOR();
  Stack stack;
  std::string gen = stack.create_module("mod1");
  stack.create_module("mod2");
  Served w(stack);
  w.allowed = {"mod1", "mod2"};

  // sign = HMAC-SHA256 with the key the hub holds for the module.
  std::string data = "emu/devices/dev1/modules/mod1\n1700000000";
  auto r = w.call("POST", api("/modules/mod1/genid/" + gen + "/sign"), Json{{"data", edge::base64::encode(data)}, {"keyId", "primary"}, {"algo", "HMACSHA256"}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  std::string hub_key = stack.emu.module_key("dev1", stack.device_key, "mod1");
  CHECK(edge::base64::decode(r.json["digest"].get<std::string>()).value() == edge::crypto::hmac_sha256(hub_key, data).value());
  // Another module's key differs; the generation id in the path is not used for signing (as upstream).
  auto other = w.call("POST", api("/modules/mod2/genid/x/sign"), Json{{"data", edge::base64::encode(data)}});
  REQUIRE(other.status == 200);
  CHECK(other.json["digest"] != r.json["digest"]);
  auto wrong_gen = w.call("POST", api("/modules/mod1/genid/not-the-gen/sign", "2018-06-28"), Json{{"data", edge::base64::encode(data)}});
  CHECK(wrong_gen.status == 200);
  CHECK(wrong_gen.json["digest"] == r.json["digest"]);

  // Bad input.
  CHECK(w.call("POST", api("/modules/mod1/genid/1/sign"), Json{{"data", "~~~"}}).status == 400);
  auto missing_body = w.raw("POST", api("/modules/mod1/genid/1/sign"), "");
  CHECK(missing_body.status == 400);
  CHECK(missing_body.json["message"] == "missing parameter: request body");
  CHECK(w.call("POST", api("/modules/mod1/genid/1/sign"), Json{{"nodata", "AA=="}}).status == 422);
  CHECK(w.call("POST", api("/modules/mod1/genid/1/sign"), Json{{"data", 5}}).status == 422);
  CHECK(w.raw("POST", api("/modules/mod1/genid/1/sign"), "{\"data\":").status == 422);
  // A body over the limit is refused from its Content-Length, before it is read.
  CHECK_THAT(w.head_only("POST", api("/modules/mod1/genid/1/sign"), 2 * 1024 * 1024), Catch::StartsWith("HTTP/1.1 413"));
  auto ghost = w.call("POST", api("/modules/ghost/genid/1/sign"), Json{{"data", "AA=="}});
  CHECK(ghost.status == 403);  // not a module this caller runs in
  w.allowed.insert("ghost");
  ghost = w.call("POST", api("/modules/ghost/genid/1/sign"), Json{{"data", "AA=="}});
  CHECK(ghost.status == 500);
  CHECK_THAT(ghost.json["message"].get<std::string>(), Catch::StartsWith("failed to get module identity for ghost"));
  CHECK(w.call("POST", "/modules/mod1/genid/1/sign", Json{{"data", "AA=="}}).json["message"] == "api-version not specified");
  CHECK(w.call("POST", api("/modules/mod1/genid/1/sign", "2021-05-11"), Json{{"data", "AA=="}}).status == 400);
  CHECK(w.call("GET", api("/modules/mod1/genid/1/sign")).status == 400);  // method not allowed

  // encrypt / decrypt: AEAD with the master encryption key, aad = module + genid.
  std::string iv = edge::base64::encode("0123456789ab");
  auto enc = w.call("POST", api("/modules/mod1/genid/" + gen + "/encrypt"), Json{{"plaintext", edge::base64::encode("secret text")}, {"initializationVector", iv}});
  INFO(enc.body);
  REQUIRE(enc.status == 200);
  auto dec = w.call("POST", api("/modules/mod1/genid/" + gen + "/decrypt"), Json{{"ciphertext", enc.json["ciphertext"]}, {"initializationVector", iv}});
  REQUIRE(dec.status == 200);
  CHECK(edge::base64::decode(dec.json["plaintext"].get<std::string>()).value() == "secret text");
  // Bound to module and generation: another genid or module cannot decrypt it.
  CHECK(w.call("POST", api("/modules/mod1/genid/other/decrypt"), Json{{"ciphertext", enc.json["ciphertext"]}, {"initializationVector", iv}}).status == 500);
  CHECK(w.call("POST", api("/modules/mod2/genid/" + gen + "/decrypt"), Json{{"ciphertext", enc.json["ciphertext"]}, {"initializationVector", iv}}).status == 500);
  CHECK(w.call("POST", api("/modules/mod1/genid/1/encrypt"), Json{{"plaintext", "%%"}, {"initializationVector", iv}}).status == 400);
  CHECK(w.call("POST", api("/modules/mod1/genid/1/encrypt"), Json{{"plaintext", "AA=="}, {"initializationVector", "%"}}).status == 400);
  CHECK(w.call("POST", api("/modules/mod1/genid/1/encrypt"), Json{{"plaintext", "AA=="}}).status == 422);
  CHECK(w.raw("POST", api("/modules/mod1/genid/1/decrypt"), "").json["message"] == "missing request body");
  CHECK(w.call("POST", api("/modules/mod3/genid/1/encrypt"), Json{{"plaintext", "AA=="}, {"initializationVector", iv}}).status == 403);

  // Still serving after all of it.
  CHECK(w.call("POST", api("/modules/mod1/genid/" + gen + "/sign"), Json{{"data", edge::base64::encode(data)}}).status == 200);
  CHECK(stack.log("keyd").find(edge::base64::encode(hub_key)) == std::string::npos);
}

TEST_CASE("workload server and identity certificates under the quickstart Edge CA", "[integration][emulator]") {
  REQUIRE_EMULATOR();
  Stack stack;
  Served w(stack);
  w.allowed = {"$edgeHub", "mod1"};

  auto bundle = w.call("GET", api("/trust-bundle", "2018-06-28"));
  REQUIRE(bundle.status == 200);
  std::string trust = bundle.json["certificate"];
  auto ca_chain = parse_chain(trust);
  REQUIRE(ca_chain.size() == 1);
  CHECK(common_name(ca_chain[0].get()) == "aziot-edge CA dev1");
  CHECK(X509_check_ca(ca_chain[0].get()) == 1);
  auto manifest = w.call("GET", api("/manifest-trust-bundle"));
  CHECK(manifest.status == 200);
  CHECK(manifest.json["certificate"] == "");

  auto r = w.call("POST", api("/modules/$edgeHub/genid/g1/certificate/server", "2020-07-07"), Json{{"commonName", "edgehost"}, {"expiration", "2030-01-01T00:00:00Z"}});
  INFO(r.body);
  REQUIRE(r.status == 201);
  auto chain = parse_chain(r.json["certificate"]);
  REQUIRE(chain.size() == 2);  // leaf + Edge CA
  CHECK(common_name(chain[0].get()) == "edgehost");
  CHECK(sans(chain[0].get()) == std::vector<std::string>{"DNS:edgehost", "DNS:edgeHub"});
  CHECK((extended_key_usage(chain[0].get()) & XKU_SSL_SERVER) != 0);
  CHECK((extended_key_usage(chain[0].get()) & XKU_SSL_CLIENT) == 0);
  CHECK(verifies(r.json["certificate"], trust));
  CHECK(r.json["privateKey"]["type"] == "key");
  auto key = edge::crypto::private_key_from_pem(r.json["privateKey"]["bytes"].get<std::string>());
  REQUIRE(key);
  CHECK(EVP_PKEY_get_bits(key->get()) == 2048);
  CHECK(X509_check_private_key(chain[0].get(), key->get()) == 1);
  CHECK_THAT(r.json["expiration"].get<std::string>(), Catch::Matches(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)"));
  // certd keeps it under upstream's id (the '$' dropped).
  edged::CertdClient certd(stack.certd_socket);
  CHECK(certd.get("aziot-edged/module/edgeHub:g1:server"));

  // An IP address common name is an IP SAN.
  auto ip = w.call("POST", api("/modules/mod1/genid/g/certificate/server"), Json{{"commonName", "10.1.2.3"}});
  REQUIRE(ip.status == 201);
  CHECK(sans(parse_chain(ip.json["certificate"])[0].get()) == std::vector<std::string>{"IP:4bytes", "DNS:mod1"});

  auto id = w.call("POST", api("/modules/mod1/certificate/identity"));
  INFO(id.body);
  REQUIRE(id.status == 201);
  auto leaf = parse_chain(id.json["certificate"]);
  CHECK(common_name(leaf[0].get()) == "mod1");
  CHECK(sans(leaf[0].get()) == std::vector<std::string>{"DNS:URI: azureiot://" + stack.emu.host + "/devices/dev1/modules/mod1"});
  CHECK((extended_key_usage(leaf[0].get()) & XKU_SSL_CLIENT) != 0);
  CHECK(verifies(id.json["certificate"], trust));

  // Bad input.
  CHECK(w.raw("POST", api("/modules/mod1/genid/g/certificate/server"), "").json["message"] == "missing request body");
  CHECK(w.call("POST", api("/modules/mod1/genid/g/certificate/server"), Json{{"cn", "x"}}).status == 422);
  auto long_cn = w.call("POST", api("/modules/mod1/genid/g/certificate/server"), Json{{"commonName", std::string(65, 'a')}});
  CHECK(long_cn.status == 500);
  CHECK(w.call("POST", api("/modules/other/genid/g/certificate/server"), Json{{"commonName", "x"}}).status == 403);
  CHECK(w.call("POST", api("/modules/other/certificate/identity")).status == 403);
  CHECK(w.call("POST", api("/modules/mod1/genid/g/certificate/server"), Json{{"commonName", "again"}}).status == 201);
}

TEST_CASE("workload trust bundle missing in certd is a 404", "[integration][emulator]") {
  REQUIRE_EMULATOR();
  StackOptions o;
  o.certd_extra = "[cert_issuance]\naziot-edged-ca = { method = \"self_signed\" }\n";
  Stack stack(o);
  Served w(stack);
  auto r = w.call("GET", api("/trust-bundle"));
  CHECK(r.status == 404);
  CHECK(r.json["message"] == "certificate \"aziot-edged-trust-bundle\" not found");
}
