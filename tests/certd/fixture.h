// Starts the built aziot-keyd and aziot-certd in a temp dir (certd pointed at keyd through
// [endpoints]) and builds the CSRs and keys the tests send.
#pragma once
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "common/clients/keyd_client.h"
#include "common/crypto.h"
#include "tests/keyd/fixture.h"

namespace certd_test {

using keyd_test::Backend;

struct Certd {
  // `config` is appended to certd's config (after homedir_path), `keyd_config` to keyd's.
  explicit Certd(Backend backend, std::string config = "", std::string keyd_config = "");
  ~Certd();
  void start();
  void stop();
  void restart() {
    stop();
    start();
  }
  edge::test::Reply call(const std::string& method, const std::string& path,
                         const std::optional<edge::http::Json>& body = std::nullopt);
  edge::test::Reply call_as(uid_t uid, const std::string& method, const std::string& path,
                            const std::optional<edge::http::Json>& body = std::nullopt);
  // POST /certificates, REQUIREs 201; returns the PEM chain.
  std::string issue(const std::string& id, const std::string& csr_pem,
                    const std::string& issuer_id = "", const std::string& issuer_handle = "");
  std::string get(const std::string& id);  // REQUIREs 200
  std::vector<std::string> cert_files() const;
  std::string home() const { return dir / "home"; }

  keyd_test::Keyd keyd;
  edge::clients::KeydClient keyd_client;
  edge::test::TempDir dir;
  std::string socket = dir / "certd.sock";
  std::map<std::string, std::string> env;
  std::unique_ptr<edge::test::Process> process;
  std::unique_ptr<edge::http::UnixClient> client;
};

std::string api(const std::string& path);  // appends ?api-version=2020-09-01

// What goes into a test CSR.
struct CsrSpec {
  CsrSpec(std::string subject_ = "CN=test", std::string basic_constraints_ = "",
          std::string key_usage_ = "", std::string extended_key_usage_ = "",
          std::string subject_alt_name_ = "")
      : subject(std::move(subject_)),
        basic_constraints(std::move(basic_constraints_)),
        key_usage(std::move(key_usage_)),
        extended_key_usage(std::move(extended_key_usage_)),
        subject_alt_name(std::move(subject_alt_name_)) {}
  std::string subject;             // "CN=x,O=y"
  std::string basic_constraints;   // e.g. "critical,CA:TRUE,pathlen:1"
  std::string key_usage;           // e.g. "critical,digitalSignature,keyCertSign"
  std::string extended_key_usage;  // e.g. "serverAuth"
  std::string subject_alt_name;    // e.g. "DNS:gw.example.test,IP:127.0.0.1"
};
edge::crypto::X509Req build_csr(EVP_PKEY* public_key, const CsrSpec& spec);  // unsigned
std::string csr_pem(X509_REQ* req);
// A CSR signed in-process with `key`.
std::string local_csr(EVP_PKEY* key, const CsrSpec& spec);
// A CSR for keyd's key pair `id` (created if missing), signed through keyd; its handle in *handle.
std::string keyd_csr(Certd& certd, const std::string& id, const std::string& algorithms,
                     const CsrSpec& spec, std::string* handle = nullptr);
edge::crypto::PKey ec_key();
edge::crypto::PKey rsa_key();
std::string private_key_pem(EVP_PKEY* key);

// The certificates of a PEM chain, REQUIREd to parse.
std::vector<edge::crypto::X509Ptr> parse_pem_chain(const std::string& pem);
// Text of one extension as OpenSSL prints it ("" when absent); *critical set when given.
std::string extension_text(X509* cert, int nid, bool* critical = nullptr);
// Runs `openssl verify -CAfile root -untrusted chain leaf`; returns its exit code, output in *out.
int openssl_verify(const edge::test::TempDir& dir, const std::string& root_pem,
                   const std::string& chain_pem, std::string* out = nullptr,
                   const std::string& extra_args = "");

}  // namespace certd_test
