#include "emulator/pki.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/crypto.h"

namespace emulator::pki {
namespace {

using edge::crypto::Bio;
using edge::crypto::PKey;
using edge::crypto::X509Ptr;

edge::Result<PKey> new_key() {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return edge::internal("EC key generation failed: " + edge::crypto::last_error());
  return key;
}

std::string to_pem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

edge::Result<X509Ptr> parse_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return edge::invalid("could not parse certificate PEM");
  return cert;
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext) {
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
}

bool is_ip(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Builds and signs a certificate; issuer == nullptr means self-signed.
edge::Result<CertAndKey> build(const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                               const std::vector<std::pair<int, std::string>>& exts, int days) {
  PKey key = EDGE_TRY(new_key());
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  auto serial = EDGE_TRY(edge::crypto::random_bytes(16));
  serial[0] = static_cast<char>(serial[0] & 0x7f);
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), key.get());
  X509* signer = issuer ? issuer : cert.get();
  for (const auto& [nid, value] : exts) add_ext(cert.get(), signer, nid, value);
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key.get(), EVP_sha256()))
    return edge::internal("signing failed: " + edge::crypto::last_error());
  return CertAndKey{to_pem(cert.get()),
                    EDGE_TRY(edge::crypto::private_key_to_pkcs8_pem(key.get()))};
}

edge::Result<CertAndKey> issue(const CertAndKey& ca, const std::string& cn,
                               const std::vector<std::pair<int, std::string>>& exts) {
  X509Ptr ca_cert = EDGE_TRY(parse_cert(ca.cert_pem));
  PKey ca_key = EDGE_TRY(edge::crypto::private_key_from_pem(ca.key_pem));
  return build(cn, ca_cert.get(), ca_key.get(), exts, 365);
}

std::string digest_hex(X509* cert, const EVP_MD* md) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, md, buf, &n);
  std::string hex = edge::crypto::hex(std::string_view(reinterpret_cast<char*>(buf), n));
  for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex;
}

}  // namespace

edge::Result<CertAndKey> make_ca(const std::string& common_name) {
  return build(common_name, nullptr, nullptr,
               {{NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                {NID_subject_key_identifier, "hash"}},
               3650);
}

edge::Result<CertAndKey> issue_server(const CertAndKey& ca, const std::vector<std::string>& names) {
  std::string san;
  for (const auto& n : names)
    san += (san.empty() ? "" : ",") + std::string(is_ip(n) ? "IP:" : "DNS:") + n;
  return issue(ca, names.empty() ? "localhost" : names.front(),
               {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                {NID_ext_key_usage, "serverAuth"},
                {NID_subject_alt_name, san},
                {NID_authority_key_identifier, "keyid"}});
}

edge::Result<CertAndKey> issue_client(const CertAndKey& ca, const std::string& common_name) {
  return issue(ca, common_name,
               {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                {NID_ext_key_usage, "clientAuth"},
                {NID_authority_key_identifier, "keyid"}});
}

edge::Result<CertAndKey> make_self_signed_client(const std::string& common_name) {
  return build(common_name, nullptr, nullptr,
               {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                {NID_ext_key_usage, "clientAuth"}},
               365);
}

std::string thumbprint_sha1(X509* cert) { return digest_hex(cert, EVP_sha1()); }
std::string thumbprint_sha256(X509* cert) { return digest_hex(cert, EVP_sha256()); }

std::string common_name(X509* cert) {
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf - 1);
  return buf;
}

edge::Result<std::string> thumbprint_sha1_of_pem(const std::string& pem) {
  X509Ptr cert = EDGE_TRY(parse_cert(pem));
  return thumbprint_sha1(cert.get());
}

bool chains_to(X509* cert, const std::vector<X509*>& chain, const std::string& ca_pem) {
  auto ca = parse_cert(ca_pem);
  if (!ca) return false;
  std::unique_ptr<X509_STORE, edge::crypto::Deleter<X509_STORE, X509_STORE_free>> store(
      X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca->get());
  std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> untrusted(
      sk_X509_new_null(), [](STACK_OF(X509) * s) { sk_X509_free(s); });
  for (X509* c : chain) sk_X509_push(untrusted.get(), c);
  std::unique_ptr<X509_STORE_CTX, edge::crypto::Deleter<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), cert, untrusted.get());
  // A group's CA may itself be an intermediate: accept chains that end at it.
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
  return X509_verify_cert(ctx.get()) == 1;
}

}  // namespace emulator::pki
