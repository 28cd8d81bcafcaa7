// certd: issuing an EC P-256 leaf through certd + keyd (the CA key stays in keyd) next to the
// same CSR signed in-process with OpenSSL and the same CA key, measured in this run; the PSS of
// both daemons idle and under load.
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "bench/support.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/http/client.h"

using edge::http::Json;
using namespace std::chrono_literals;

namespace {
constexpr auto kDuration = 2000ms;
namespace crypto = edge::crypto;

void die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

void write(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) die("cannot write " + path);
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

template <class F>
std::string pem(F&& write_pem) {
  crypto::Bio bio(BIO_new(BIO_s_mem()));
  write_pem(bio.get());
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

X509_EXTENSION* ext(X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (!e) die("bad extension");
  return e;
}

// A self-signed P-256 CA made in-process (its key is then preloaded into keyd).
crypto::X509Ptr make_ca(EVP_PKEY* key) {
  crypto::X509Ptr ca(X509_new());
  X509_set_version(ca.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(ca.get()), 1);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(ca.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Bench CA"), -1, -1, 0);
  X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get()));
  X509_gmtime_adj(X509_getm_notBefore(ca.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(ca.get()), 365L * 86400);
  X509_set_pubkey(ca.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.get(), ca.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,digitalSignature"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    X509_EXTENSION* e = ext(&ctx, nid, value);
    X509_add_ext(ca.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  X509_sign(ca.get(), key, EVP_sha256());
  return ca;
}

std::string make_csr(EVP_PKEY* key) {
  crypto::X509Req req(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("gateway.example.test"), -1, -1,
                             0);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ext(nullptr, NID_ext_key_usage, "serverAuth"));
  sk_X509_EXTENSION_push(
      exts, ext(nullptr, NID_subject_alt_name, "DNS:gateway.example.test,DNS:edgeHub"));
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_set_pubkey(req.get(), key);
  X509_REQ_sign(req.get(), key, EVP_sha256());
  return pem([&](BIO* b) { PEM_write_bio_X509_REQ(b, req.get()); });
}

// The baseline: what certd does for one request, with plain OpenSSL and the key in memory.
bool issue_in_process(const std::string& csr_pem, X509* ca, EVP_PKEY* ca_key,
                      const std::string& store_path = "") {
  crypto::Bio in(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  crypto::X509Req req(PEM_read_bio_X509_REQ(in.get(), nullptr, nullptr, nullptr));
  if (!req || X509_REQ_verify(req.get(), X509_REQ_get0_pubkey(req.get())) != 1) return false;
  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] = static_cast<unsigned char>((serial[0] & 0x3f) | 0x40);
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get()));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca));
  X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(req.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 86400);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get());
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i)
    X509_add_ext(cert.get(), sk_X509_EXTENSION_value(exts, i), -1);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca, cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_key_identifier, "hash"},
                            std::pair{NID_authority_key_identifier, "keyid"}}) {
    X509_EXTENSION* e = ext(&ctx, nid, value);
    X509_add_ext(cert.get(), e, -1);
    X509_EXTENSION_free(e);
  }
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) <= 0) return false;
  std::string chain = pem([&](BIO* b) { PEM_write_bio_X509(b, cert.get()); }) +
                      pem([&](BIO* b) { PEM_write_bio_X509(b, ca); });
  if (store_path.empty()) return !chain.empty();
  return edge::fs::write_atomic(store_path, chain, 0644).has_value();
}
}  // namespace

int main() {
  std::string dir = bench::temp_dir();
  std::string keyd_sock = dir + "/keyd.sock", certd_sock = dir + "/certd.sock";
  crypto::PKey ca_key(EVP_EC_gen("P-256"));
  auto ca = make_ca(ca_key.get());
  write(dir + "/ca.key", *crypto::private_key_to_pkcs8_pem(ca_key.get()));
  write(dir + "/ca.pem", pem([&](BIO* b) { PEM_write_bio_X509(b, ca.get()); }));
  write(dir + "/keyd.toml", "[aziot_keys]\nhomedir_path = \"" + dir +
                                "/keyd\"\n[preloaded_keys]\nbench-ca = \"file://" + dir +
                                "/ca.key\"\n[endpoints]\naziot_keyd = \"unix://" + keyd_sock +
                                "\"\n");
  write(dir + "/certd.toml", "homedir_path = \"" + dir +
                                 "/certd\"\n[preloaded_certs]\nbench-ca = \"file://" + dir +
                                 "/ca.pem\"\n[endpoints]\naziot_certd = \"unix://" + certd_sock +
                                 "\"\naziot_keyd = \"unix://" + keyd_sock + "\"\n");
  pid_t keyd = bench::spawn({bench::bin("aziot-keyd")},
                            {{"AZIOT_KEYD_CONFIG", dir + "/keyd.toml"},
                             {"AZIOT_KEYD_CONFIG_DIR", dir + "/none"},
                             {"AZIOT_LOG", "warn"}},
                            dir + "/keyd.log");
  pid_t certd = bench::spawn({bench::bin("aziot-certd")},
                             {{"AZIOT_CERTD_CONFIG", dir + "/certd.toml"},
                              {"AZIOT_CERTD_CONFIG_DIR", dir + "/none"},
                              {"AZIOT_LOG", "warn"}},
                             dir + "/certd.log");
  if (!bench::wait_for_socket(keyd_sock) || !bench::wait_for_socket(certd_sock))
    die("daemons did not start");
  std::this_thread::sleep_for(200ms);
  long certd_pss_start = bench::pss_kib(certd);

  edge::http::UnixClient setup(keyd_sock);
  auto h = setup.request("GET", "/keypair/bench-ca?api-version=2021-05-01");
  if (!h || h->status != 200) die("could not load the CA key pair from keyd");
  std::string handle = (*h->json())["keyHandle"];
  crypto::PKey leaf_key(EVP_EC_gen("P-256"));
  std::string csr = make_csr(leaf_key.get());
  std::string body = Json{{"certId", "bench-leaf"},
                          {"csr", csr},
                          {"issuer", {{"certId", "bench-ca"}, {"privateKeyHandle", handle}}}}
                         .dump();
  {
    edge::http::UnixClient c(certd_sock);
    auto r =
        c.request_raw("POST", "/certificates?api-version=2020-09-01", body, "application/json");
    if (!r || r->status != 201) die("issuance failed: " + (r ? r->body : r.error().message));
  }
  std::this_thread::sleep_for(200ms);
  long certd_pss_idle = bench::pss_kib(certd), keyd_pss_idle = bench::pss_kib(keyd);

  std::printf("certd benchmark (%d cores), %lld ms per figure\n",
              static_cast<int>(std::thread::hardware_concurrency()),
              static_cast<long long>(kDuration.count()));
  for (int clients : {1, 4}) {
    std::vector<std::unique_ptr<edge::http::UnixClient>> pool;
    for (int i = 0; i < clients; ++i)
      pool.push_back(std::make_unique<edge::http::UnixClient>(certd_sock));
    long certd_load = 0, keyd_load = 0;
    std::thread sampler([&] {
      std::this_thread::sleep_for(kDuration / 2);
      certd_load = bench::pss_kib(certd);
      keyd_load = bench::pss_kib(keyd);
    });
    double api = bench::rate(clients, kDuration, [&](int t) {
      auto r = pool[t]->request_raw("POST", "/certificates?api-version=2020-09-01", body,
                                    "application/json");
      return r && r->status == 201;
    });
    sampler.join();
    double local = bench::rate(clients, kDuration,
                               [&](int) { return issue_in_process(csr, ca.get(), ca_key.get()); });
    // certd persists every issued chain with write_atomic (fsync of file and directory); this
    // baseline does the same so the ratio shows what the daemons and keyd add on top of it.
    double stored = bench::rate(clients, kDuration, [&](int t) {
      return issue_in_process(csr, ca.get(), ca_key.get(),
                              dir + "/stored-" + std::to_string(t) + ".cer");
    });
    std::string n = std::to_string(clients) + " client" + (clients > 1 ? "s" : "");
    bench::row("EC P-256 leaf issued via certd+keyd, " + n, api,
               "same CSR signed in-process (OpenSSL)", local, "certs/s");
    bench::row("EC P-256 leaf issued via certd+keyd, " + n, api,
               "in-process signing + atomic fsynced write", stored, "certs/s");
    std::printf("PSS under load (%s): certd %ld KiB, keyd %ld KiB\n", n.c_str(), certd_load,
                keyd_load);
  }
  std::printf(
      "certd PSS at start: %ld KiB, idle after first issuance: %ld KiB (keyd idle: %ld KiB)\n",
      certd_pss_start, certd_pss_idle, keyd_pss_idle);
  bench::stop(certd);
  bench::stop(keyd);
  if (std::system(("rm -rf " + dir).c_str()) != 0) return 1;
  return 0;
}
