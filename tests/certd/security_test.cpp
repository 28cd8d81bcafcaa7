// certd under hostile input: broken CSRs, wrong issuers and keys, oversized bodies, path-like
// ids, callers without a principal, crashes mid-issuance. Each gets a clear error, nothing is
// written, and the daemon keeps serving.
#include <openssl/pem.h>
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "certd/issue.h"
#include "common/base64.h"
#include "tests/certd/fixture.h"

using namespace certd_test;
using edge::http::Json;

namespace {
const char* kConfig = R"(
[cert_issuance]
root = { method = "self_signed" }
est-cert = { method = "est", url = "https://est.example.test/.well-known/est", username = "u", password = "p" }
orphan = { method = "local_ca" }

[[principal]]
uid = 65534
certs = ["nobody-*"]
)";

std::map<std::string, std::string> snapshot(const Certd& certd) {
  std::map<std::string, std::string> files;
  for (const auto& name : certd.cert_files())
    files[name] = edge::test::read_file(certd.home() + "/certs/" + name);
  return files;
}

// A CSR whose signature no longer matches: one bit of the signature flipped.
std::string broken_signature_csr(EVP_PKEY* key) {
  std::string pem = local_csr(key, {"CN=broken"});
  auto req = edge::crypto::X509Req(PEM_read_bio_X509_REQ(
      edge::crypto::Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))).get(), nullptr,
      nullptr, nullptr));
  unsigned char* der = nullptr;
  int n = i2d_X509_REQ(req.get(), &der);
  std::string bytes(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  bytes[bytes.size() - 5] ^= 0x01;  // inside the signature BIT STRING at the end
  std::string b64 = edge::base64::encode(bytes), out = "-----BEGIN CERTIFICATE REQUEST-----\n";
  for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
  return out + "-----END CERTIFICATE REQUEST-----\n";
}

// A self-signed CA certificate that expired yesterday.
std::string expired_ca(EVP_PKEY* key) {
  edge::crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Old CA"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -10 * 86400);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), -86400);
  X509_set_pubkey(cert.get(), key);
  REQUIRE(X509_sign(cert.get(), key, EVP_sha256()) > 0);
  return certd::to_pem(cert.get());
}
}  // namespace

TEST_CASE("bad issuance requests get clear errors and write nothing", "[integration]") {
  Certd certd(Backend::Files, kConfig);
  std::string root_handle;
  std::string root_pem = certd.issue(
      "root", keyd_csr(certd, "root", "ec-p256", {"CN=Root", "critical,CA:TRUE"}, &root_handle));
  std::string other_handle = *certd.keyd_client.create_key_pair_if_not_exists("other", "ec-p256");
  std::string rsa_handle = *certd.keyd_client.create_key_pair_if_not_exists("rsa", "rsa-2048");
  auto old_key = ec_key();
  REQUIRE(certd.call("PUT", api("/certificates/old-ca"), Json{{"pem", expired_ca(old_key.get())}})
              .status == 201);
  auto before = snapshot(certd);
  REQUIRE(before.size() == 2);

  auto key = ec_key();
  std::string good_csr = local_csr(key.get(), {"CN=leaf"});
  Json root_issuer{{"certId", "root"}, {"privateKeyHandle", root_handle}};
  struct Case {
    std::string what;
    Json body;
    int status;
    std::string message;
  };
  std::vector<Case> cases = {
      {"garbage CSR",
       {{"certId", "x"}, {"csr", "not a csr"}, {"issuer", root_issuer}},
       400,
       "parameter \"csr\" has an invalid value\ncaused by: not a PEM certificate signing request"},
      {"CSR with a broken signature",
       {{"certId", "x"}, {"csr", broken_signature_csr(key.get())}, {"issuer", root_issuer}},
       400,
       "parameter \"csr\" has an invalid value\ncaused by: CSR failed to be verified with its "
       "public key"},
      {"unknown issuer id",
       {{"certId", "x"},
        {"csr", good_csr},
        {"issuer", {{"certId", "missing"}, {"privateKeyHandle", root_handle}}}},
       400,
       "parameter \"issuer.certId\" has an invalid value\ncaused by: not found"},
      {"issuer handle for another EC key",
       {{"certId", "x"},
        {"csr", good_csr},
        {"issuer", {{"certId", "root"}, {"privateKeyHandle", other_handle}}}},
       400,
       "parameter \"issuer.privateKeyHandle\" has an invalid value\ncaused by: could not sign with "
       "the issuer's key: "
       "the key behind the handle does not match"},
      {"issuer handle for an RSA key",
       {{"certId", "x"},
        {"csr", good_csr},
        {"issuer", {{"certId", "root"}, {"privateKeyHandle", rsa_handle}}}},
       400,
       "parameter \"issuer.privateKeyHandle\" has an invalid value\ncaused by: could not sign with "
       "the issuer's key: keyd:"},
      {"forged issuer handle",
       {{"certId", "x"},
        {"csr", good_csr},
        {"issuer", {{"certId", "root"}, {"privateKeyHandle", "sr=e30=&sig=AAAA"}}}},
       400,
       "invalid handle"},
      {"expired issuer",
       {{"certId", "x"},
        {"csr", good_csr},
        {"issuer", {{"certId", "old-ca"}, {"privateKeyHandle", other_handle}}}},
       400,
       "parameter \"issuer.certId\" has an invalid value\ncaused by: the issuer certificate "
       "expired on "},
      {"CN of 65 characters",
       {{"certId", "x"},
        {"csr", local_csr(key.get(), {"CN=" + std::string(65, 'h')})},
        {"issuer", root_issuer}},
       400,
       "the subject's common name is 65 characters long; X.509 allows at most 64"},
      {"CN of 65 non-ASCII characters",
       {{"certId", "x"},
        {"csr", local_csr(key.get(), {"CN=" + std::string(64, 'a') + "\xc3\xa1"})},
        {"issuer", root_issuer}},
       400,
       "65 characters long"},
      {"oversized CSR",
       {{"certId", "x"}, {"csr", std::string(300 * 1024, 'A')}, {"issuer", root_issuer}},
       400,
       "at most 65536 are accepted"},
      {"id with .. segments",
       {{"certId", "../../etc/evil"}, {"csr", good_csr}, {"issuer", root_issuer}},
       400,
       "must not contain \".\" or \"..\" path segments"},
      {"absolute id",
       {{"certId", "/etc/evil"}, {"csr", good_csr}, {"issuer", root_issuer}},
       400,
       "must not be an absolute path"},
      {"id with a newline",
       {{"certId", "a\nb"}, {"csr", good_csr}, {"issuer", root_issuer}},
       400,
       "control characters"},
      {"overlong id",
       {{"certId", std::string(257, 'i')}, {"csr", good_csr}, {"issuer", root_issuer}},
       400,
       "longer than 256 bytes"},
      {"no issuer and no issuance config",
       {{"certId", "x"}, {"csr", good_csr}},
       400,
       "parameter \"issuer\" has an invalid value\ncaused by: issuer is required for "
       "locally-issued certs"},
      {"EST issuance",
       {{"certId", "est-cert"}, {"csr", good_csr}},
       400,
       "is configured for EST issuance (method = \"est\"), which this aziot-certd does not support "
       "yet"},
      {"local_ca without [cert_issuance.local_ca]",
       {{"certId", "orphan"}, {"csr", good_csr}},
       400,
       "[cert_issuance.local_ca] is not configured"},
      {"self_signed CSR for a key other than keyd's",
       {{"certId", "root"}, {"csr", good_csr}},
       400,
       "could not sign with key pair \"root\" (self_signed certs are signed with the key pair of "
       "the same id"},
      {"issuer of the wrong type",
       {{"certId", "x"}, {"csr", good_csr}, {"issuer", "root"}},
       422,
       ""},
      {"missing csr", {{"certId", "x"}}, 422, ""},
  };
  for (const auto& c : cases) {
    auto r = certd.call("POST", api("/certificates"), c.body);
    INFO(c.what << ": " << r.body);
    CHECK(r.status == c.status);
    CHECK_THAT(r.json.value("message", std::string()), Catch::Contains(c.message));
  }
  // A CN of exactly 64 characters is fine.
  auto ok = certd.call("POST", api("/certificates"),
                       Json{{"certId", "x"},
                            {"csr", local_csr(key.get(), {"CN=" + std::string(64, 'h')})},
                            {"issuer", root_issuer}});
  CHECK(ok.status == 201);
  CHECK(certd.call("DELETE", api("/certificates/x")).status == 204);

  struct Raw {
    std::string what, method, path, body;
    int status;
    std::string message;
  };
  std::vector<Raw> raw = {
      {"malformed JSON", "POST", "/certificates", "{not json", 422, ""},
      {"import of garbage", "PUT", "/certificates/y", R"({"pem": "garbage"})", 400,
       "parameter \"pem\" has an invalid value"},
      {"import of an oversized PEM", "PUT", "/certificates/y",
       Json{{"pem", std::string(300 * 1024, 'A')}}.dump(), 400, "at most 262144 are accepted"},
      {"import without pem", "PUT", "/certificates/y", "{}", 422, ""},
      {"GET of a path-like id", "GET", "/certificates/..%2F..%2Fetc%2Fpasswd", "", 400,
       "path segments"},
      {"DELETE of a path-like id", "DELETE", "/certificates/%2Fetc%2Fpasswd", "", 400,
       "absolute path"},
      {"unknown api-version", "GET", "/certificates/root?api-version=2099-01-01", "", 400,
       "invalid api-version"},
      {"unknown route", "GET", "/certs/root", "", 404, "not found"},
      {"wrong method", "PATCH", "/certificates/root", "", 400, "method not allowed"},
  };
  for (const auto& c : raw) {
    std::string target = c.path.find("api-version") == std::string::npos ? api(c.path) : c.path;
    auto r = certd.client->request_raw(c.method, target, c.body, "application/json");
    REQUIRE(r);
    INFO(c.what << ": " << r->body);
    CHECK(r->status == c.status);
    CHECK_THAT(r->message(), Catch::Contains(c.message));
  }
  // A body over the transport limit is refused as a whole.
  auto huge = certd.client->request_raw("PUT", api("/certificates/y"),
                                        std::string(2 * 1024 * 1024, ' '), "application/json");
  CHECK((!huge || huge->status == 413));

  certd.client = std::make_unique<edge::http::UnixClient>(certd.socket);
  CHECK(snapshot(certd) == before);
  CHECK(certd.get("root") == root_pem);
  CHECK(edge::test::list_dir(certd.home()) == std::vector<std::string>{"certs"});
}

TEST_CASE("only principals may create import and delete while anyone may read", "[integration]") {
  Certd certd(Backend::Files, kConfig);
  std::string root_handle;
  std::string root_pem = certd.issue(
      "root", keyd_csr(certd, "root", "ec-p256", {"CN=Root", "critical,CA:TRUE"}, &root_handle));
  auto before = snapshot(certd);
  auto key = ec_key();
  Json create{{"certId", "mine"},
              {"csr", local_csr(key.get(), {"CN=mine"})},
              {"issuer", {{"certId", "root"}, {"privateKeyHandle", root_handle}}}};

  auto r = certd.call_as(65534, "POST", api("/certificates"), create);
  CHECK(r.status == 401);
  CHECK(r.json["message"] == "user 65534 is not authorized to modify the cert mine");
  CHECK(certd.call_as(65534, "PUT", api("/certificates/root"), Json{{"pem", root_pem}}).status ==
        401);
  CHECK(certd.call_as(65534, "DELETE", api("/certificates/root")).status == 401);
  CHECK(certd.call_as(1000, "DELETE", api("/certificates/root")).status == 401);
  CHECK(snapshot(certd) == before);

  r = certd.call_as(65534, "GET", api("/certificates/root"));
  CHECK(r.status == 200);
  CHECK(r.json["pem"] == root_pem);

  // The principal's wildcard grants nobody-*.
  create["certId"] = "nobody-leaf";
  r = certd.call_as(65534, "POST", api("/certificates"), create);
  CHECK(r.status == 201);
  CHECK(certd.call_as(65534, "PUT", api("/certificates/nobody-copy"), Json{{"pem", root_pem}})
            .status == 201);
  CHECK(certd.call_as(65534, "DELETE", api("/certificates/nobody-leaf")).status == 204);
  CHECK(certd.get("nobody-copy") == root_pem);
  CHECK(certd.cert_files().size() == 2);
}

TEST_CASE("issuance fails clearly while keyd is down and works again once it is back",
          "[integration]") {
  Certd certd(Backend::Files, kConfig);
  std::string root_handle;
  certd.issue("root",
              keyd_csr(certd, "root", "ec-p256", {"CN=Root", "critical,CA:TRUE"}, &root_handle));
  auto key = ec_key();
  Json create{{"certId", "leaf"},
              {"csr", local_csr(key.get(), {"CN=leaf"})},
              {"issuer", {{"certId", "root"}, {"privateKeyHandle", root_handle}}}};
  certd.keyd.stop();
  auto r = certd.call("POST", api("/certificates"), create);
  CHECK(r.status == 503);
  CHECK_THAT(r.json.value("message", std::string()), Catch::Contains("keyd: could not connect to"));
  CHECK(certd.cert_files().size() == 1);
  certd.keyd.start();
  CHECK(certd.call("POST", api("/certificates"), create).status == 201);
}

TEST_CASE("SIGKILL during issuance leaves no partial certificate file", "[integration]") {
  Certd certd(Backend::Files, kConfig);
  std::string root_handle;
  certd.issue("root",
              keyd_csr(certd, "root", "ec-p256", {"CN=Root", "critical,CA:TRUE"}, &root_handle));
  auto key = ec_key();
  std::string csr = local_csr(key.get(), {"CN=leaf"});
  for (int round = 0; round < 4; ++round) {
    std::atomic<int> issued{0};
    std::atomic<bool> stopped{false};
    std::thread issuer([&] {
      edge::http::UnixClient c(certd.socket);
      for (int i = 0;; ++i) {
        auto r = c.request(
            "POST", api("/certificates"),
            Json{{"certId", "leaf-" + std::to_string(round) + "-" + std::to_string(i % 5)},
                 {"csr", csr},
                 {"issuer", {{"certId", "root"}, {"privateKeyHandle", root_handle}}}});
        if (!r || r->status != 201) break;
        ++issued;
      }
      stopped = true;
    });
    while (issued < 3 + round * 5 && !stopped)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(!stopped);  // every issuance before the kill succeeded
    certd.process->kill(SIGKILL);
    issuer.join();
    certd.process->wait();
    certd.start();
    // Every file is a whole chain (leaf + root); no temp file survives the restart.
    for (const auto& name : certd.cert_files()) {
      INFO(name);
      CHECK(name.ends_with(".cer"));
      CHECK(name.front() != '.');
      auto chain = parse_pem_chain(edge::test::read_file(certd.home() + "/certs/" + name));
      CHECK((chain.size() == 1 || chain.size() == 2));
    }
  }
}
