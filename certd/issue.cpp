#include "certd/issue.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <set>

#include "certd/config.h"

namespace certd {
using edge::internal;
using edge::invalid;
using edge::Result;
namespace crypto = edge::crypto;

namespace {
struct ExtStackFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const {
    sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free);
  }
};
using ExtStack = std::unique_ptr<STACK_OF(X509_EXTENSION), ExtStackFree>;
using NamePtr = std::unique_ptr<X509_NAME, crypto::Deleter<X509_NAME, X509_NAME_free>>;
using TimePtr = std::unique_ptr<ASN1_TIME, crypto::Deleter<ASN1_TIME, ASN1_TIME_free>>;

crypto::Bio memory_bio(std::string_view data) {
  return crypto::Bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

size_t utf8_chars(const unsigned char* s, int n) {
  size_t chars = 0;
  for (int i = 0; i < n; ++i) chars += (s[i] & 0xC0) != 0x80;
  return chars;
}

edge::Status check_common_names(X509_NAME* name) {
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n < 0) return invalid("the subject's common name is not a valid string");
    size_t chars = utf8_chars(utf8, n);
    OPENSSL_free(utf8);
    if (chars > kMaxCommonNameChars)
      return invalid("the subject's common name is " + std::to_string(chars) +
                     " characters long; X.509 allows at most " +
                     std::to_string(kMaxCommonNameChars) +
                     " (use a shorter hostname or a common_name override)");
  }
  return {};
}

edge::Status add_key_identifiers(X509* cert, X509* issuer, bool has_skid, bool has_akid) {
  X509V3_CTX ctx;
  if (!has_skid) {
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* skid = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash");
    if (!skid)
      return internal("could not compute the subject key identifier: " + crypto::last_error());
    X509_add_ext(cert, skid, -1);
    X509_EXTENSION_free(skid);
  }
  // As upstream: under an issuer without a SKID the cert gets no AKID rather than an error.
  if (issuer && !has_akid && X509_get0_subject_key_id(issuer)) {
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* akid =
        X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid");
    if (!akid)
      return internal("could not compute the authority key identifier: " + crypto::last_error());
    X509_add_ext(cert, akid, -1);
    X509_EXTENSION_free(akid);
  }
  return {};
}
}  // namespace

Result<crypto::X509Req> parse_csr(std::string_view pem) {
  if (pem.size() > kMaxCsrBytes)
    return invalid("the CSR is " + std::to_string(pem.size()) + " bytes; at most " +
                   std::to_string(kMaxCsrBytes) + " are accepted");
  auto bio = memory_bio(pem);
  crypto::X509Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return invalid("not a PEM certificate signing request: " + crypto::last_error());
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key) return invalid("the CSR has no usable public key: " + crypto::last_error());
  if (X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return invalid("CSR failed to be verified with its public key");
  }
  ExtStack exts(X509_REQ_get_extensions(req.get()));
  std::set<int> seen;
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    ASN1_OBJECT* obj = X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts.get(), i));
    char name[80];
    OBJ_obj2txt(name, sizeof name, obj, 0);
    int nid = OBJ_obj2nid(obj);
    if (nid != NID_undef && !seen.insert(nid).second)
      return invalid(std::string("the CSR repeats the extension ") + name);
  }
  ERR_clear_error();
  return req;
}

Result<std::vector<crypto::X509Ptr>> parse_chain(std::string_view pem) {
  if (pem.size() > kMaxPemBytes)
    return invalid("the PEM is " + std::to_string(pem.size()) + " bytes; at most " +
                   std::to_string(kMaxPemBytes) + " are accepted");
  auto bio = memory_bio(pem);
  std::vector<crypto::X509Ptr> chain;
  while (true) {
    crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (chain.size() == kMaxChainCerts)
      return invalid("more than " + std::to_string(kMaxChainCerts) + " certificates in one chain");
    chain.push_back(std::move(cert));
  }
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  std::string why = clean_end ? "" : crypto::last_error();
  ERR_clear_error();
  if (!clean_end) return invalid("not a valid PEM certificate chain: " + why);
  if (chain.empty()) return invalid("no PEM certificate found");
  return chain;
}

std::string time_text(const ASN1_TIME* time) {
  crypto::Bio bio(BIO_new(BIO_s_mem()));
  ASN1_TIME_print(bio.get(), time);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string to_pem(X509* cert) {
  crypto::Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<crypto::X509Ptr> prepare_certificate(const CertTemplate& t) {
  crypto::X509Ptr cert(X509_new());
  if (!cert) return internal("out of memory");

  NamePtr override_name;
  X509_NAME* subject = X509_REQ_get_subject_name(t.csr);
  if (t.subject) {
    override_name.reset(X509_NAME_new());
    for (const auto& [field, value] : *t.subject)
      if (X509_NAME_add_entry_by_txt(override_name.get(), field.c_str(), MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                     0) != 1)
        return invalid("the configured subject " + field + "=\"" + value +
                       "\" is not valid: " + crypto::last_error());
    subject = override_name.get();
  }
  EDGE_TRY_VOID(check_common_names(subject));

  std::time_t now = t.now;
  TimePtr not_after(X509_time_adj_ex(nullptr, static_cast<int>(t.expiry_days), 0, &now));
  if (!not_after) return internal("could not compute the expiry time");
  if (t.issuer) {
    const ASN1_TIME* issuer_end = X509_get0_notAfter(t.issuer);
    if (ASN1_TIME_compare(issuer_end, not_after.get()) < 0)
      not_after.reset(ASN1_STRING_dup(issuer_end));
  }

  // A random positive serial of 16 bytes; the fixed high bits keep it non-zero and of one length.
  auto serial_bytes = EDGE_TRY(crypto::random_bytes(16));
  serial_bytes[0] = static_cast<char>((serial_bytes[0] & 0x3f) | 0x40);
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial_bytes.data()), 16, nullptr);
  ASN1_INTEGER* serial = bn ? BN_to_ASN1_INTEGER(bn, nullptr) : nullptr;
  BN_free(bn);
  bool ok = serial && X509_set_serialNumber(cert.get(), serial) == 1;
  ASN1_INTEGER_free(serial);

  ok =
      ok && X509_set_version(cert.get(), 2) == 1 &&
      X509_set_subject_name(cert.get(), subject) == 1 &&
      X509_set_issuer_name(cert.get(), t.issuer ? X509_get_subject_name(t.issuer) : subject) == 1 &&
      X509_set_pubkey(cert.get(), X509_REQ_get0_pubkey(t.csr)) == 1 &&
      X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, 0, &now) != nullptr &&
      X509_set1_notAfter(cert.get(), not_after.get()) == 1;
  if (!ok) return internal("could not build the certificate: " + crypto::last_error());

  bool has_skid = false, has_akid = false;
  ExtStack exts(X509_REQ_get_extensions(t.csr));
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
    has_skid |= nid == NID_subject_key_identifier;
    has_akid |= nid == NID_authority_key_identifier;
    if (X509_add_ext(cert.get(), ext, -1) != 1) return internal("could not copy a CSR extension");
  }
  ERR_clear_error();
  EDGE_TRY_VOID(add_key_identifiers(cert.get(), t.issuer, has_skid, has_akid));
  return cert;
}

}  // namespace certd
