#include "tests/certd/fixture.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "certd/issue.h"
#include "common/clients/keyd_sign.h"
#include "common/uri.h"

namespace certd_test {
using edge::http::Json;
namespace crypto = edge::crypto;

std::string api(const std::string& path) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "api-version=2020-09-01";
}

Certd::Certd(Backend backend, std::string config, std::string keyd_config)
    : keyd(backend, std::move(keyd_config)), keyd_client(keyd.socket) {
  std::string text = "homedir_path = \"" + home() + "\"\n" + config +
                     "\n[endpoints]\naziot_certd = \"unix://" + socket +
                     "\"\naziot_keyd = \"unix://" + keyd.socket + "\"\n";
  edge::test::write_file(dir / "config.toml", text);
  env["AZIOT_CERTD_CONFIG"] = dir / "config.toml";
  env["AZIOT_CERTD_CONFIG_DIR"] = dir / "config.d";
  start();
}

Certd::~Certd() { stop(); }

void Certd::start() {
  process = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("aziot-certd")}, env, dir / "certd.log");
  INFO(edge::test::read_file(dir / "certd.log"));
  REQUIRE(edge::test::wait_for_socket(socket));
  ::chmod(socket.c_str(), 0666);  // so tests can call as other uids
  client = std::make_unique<edge::http::UnixClient>(socket);
}

void Certd::stop() {
  client.reset();
  if (process) process->stop();
  process.reset();
}

edge::test::Reply Certd::call(const std::string& method, const std::string& path,
                              const std::optional<Json>& body) {
  return edge::test::call(*client, method, path, body);
}

edge::test::Reply Certd::call_as(uid_t uid, const std::string& method, const std::string& path,
                                 const std::optional<Json>& body) {
  return edge::test::call_as(uid, socket, method, path, body);
}

std::string Certd::issue(const std::string& id, const std::string& csr,
                         const std::string& issuer_id, const std::string& issuer_handle) {
  Json body{{"certId", id}, {"csr", csr}};
  if (!issuer_id.empty())
    body["issuer"] = Json{{"certId", issuer_id}, {"privateKeyHandle", issuer_handle}};
  auto r = call("POST", api("/certificates"), body);
  INFO(id << ": " << r.body);
  REQUIRE(r.status == 201);
  return r.json["pem"];
}

std::string Certd::get(const std::string& id) {
  auto r = call("GET", api("/certificates/" + edge::uri::percent_encode(id)));
  INFO(id << ": " << r.body);
  REQUIRE(r.status == 200);
  return r.json["pem"];
}

std::vector<std::string> Certd::cert_files() const {
  return edge::test::list_dir(home() + "/certs");
}

crypto::X509Req build_csr(EVP_PKEY* public_key, const CsrSpec& spec) {
  crypto::X509Req req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  size_t start = 0;
  while (start < spec.subject.size()) {
    size_t comma = spec.subject.find(',', start);
    if (comma == std::string::npos) comma = spec.subject.size();
    std::string part = spec.subject.substr(start, comma - start);
    auto eq = part.find('=');
    // UTF8String as given: lets tests build names OpenSSL would refuse (a 65-character CN).
    REQUIRE(X509_NAME_add_entry_by_txt(
                name, part.substr(0, eq).c_str(), V_ASN1_UTF8STRING,
                reinterpret_cast<const unsigned char*>(part.c_str() + eq + 1), -1, -1, 0) == 1);
    start = comma + 1;
  }
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  for (auto [nid, value] : {std::pair{NID_basic_constraints, &spec.basic_constraints},
                            std::pair{NID_key_usage, &spec.key_usage},
                            std::pair{NID_ext_key_usage, &spec.extended_key_usage},
                            std::pair{NID_subject_alt_name, &spec.subject_alt_name}}) {
    if (value->empty()) continue;
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, nid, value->c_str());
    REQUIRE(ext != nullptr);
    sk_X509_EXTENSION_push(exts, ext);
  }
  if (sk_X509_EXTENSION_num(exts) > 0) REQUIRE(X509_REQ_add_extensions(req.get(), exts) == 1);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  REQUIRE(X509_REQ_set_pubkey(req.get(), public_key) == 1);
  return req;
}

std::string csr_pem(X509_REQ* req) {
  crypto::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string local_csr(EVP_PKEY* key, const CsrSpec& spec) {
  auto req = build_csr(key, spec);
  REQUIRE(X509_REQ_sign(req.get(), key, EVP_sha256()) > 0);
  return csr_pem(req.get());
}

std::string keyd_csr(Certd& certd, const std::string& id, const std::string& algorithms,
                     const CsrSpec& spec, std::string* handle_out) {
  auto handle = certd.keyd_client.create_key_pair_if_not_exists(id, algorithms);
  REQUIRE(handle);
  auto pub = certd.keyd_client.public_key(*handle);
  REQUIRE(pub);
  auto req = build_csr(pub->get(), spec);
  auto signed_ = edge::clients::sign_request(req.get(), pub->get(), certd.keyd_client, *handle);
  INFO((signed_ ? "" : signed_.error().message));
  REQUIRE(signed_);
  if (handle_out) *handle_out = *handle;
  return csr_pem(req.get());
}

crypto::PKey ec_key() { return crypto::PKey(EVP_EC_gen("P-256")); }
crypto::PKey rsa_key() { return crypto::PKey(EVP_RSA_gen(2048)); }

std::string private_key_pem(EVP_PKEY* key) {
  auto pem = crypto::private_key_to_pkcs8_pem(key);
  REQUIRE(pem);
  return *pem;
}

std::vector<crypto::X509Ptr> parse_pem_chain(const std::string& pem) {
  auto chain = certd::parse_chain(pem);
  INFO((chain ? "" : chain.error().message));
  REQUIRE(chain);
  return std::move(*chain);
}

std::string extension_text(X509* cert, int nid, bool* critical) {
  int i = X509_get_ext_by_NID(cert, nid, -1);
  if (i < 0) return "";
  X509_EXTENSION* ext = X509_get_ext(cert, i);
  if (critical) *critical = X509_EXTENSION_get_critical(ext) == 1;
  crypto::Bio bio(BIO_new(BIO_s_mem()));
  X509V3_EXT_print(bio.get(), ext, 0, 0);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

int openssl_verify(const edge::test::TempDir& dir, const std::string& root_pem,
                   const std::string& chain_pem, std::string* out, const std::string& extra_args) {
  auto certs = parse_pem_chain(chain_pem);
  REQUIRE(!certs.empty());
  std::string rest;
  for (size_t i = 1; i < certs.size(); ++i) rest += certd::to_pem(certs[i].get());
  edge::test::write_file(dir / "verify-root.pem", root_pem);
  edge::test::write_file(dir / "verify-leaf.pem", certd::to_pem(certs[0].get()));
  std::string untrusted;
  if (!rest.empty()) {
    edge::test::write_file(dir / "verify-chain.pem", rest);
    untrusted = " -untrusted " + (dir / "verify-chain.pem");
  }
  return edge::test::run("openssl verify " + extra_args + " -CAfile " + (dir / "verify-root.pem") +
                             untrusted + " " + (dir / "verify-leaf.pem") + " 2>&1",
                         out);
}

}  // namespace certd_test
