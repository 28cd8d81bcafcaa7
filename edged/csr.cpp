#include "edged/csr.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "common/clients/keyd_sign.h"

namespace edged {
namespace {
using edge::crypto::last_error;

struct NameFree {
  void operator()(X509_NAME* n) const { X509_NAME_free(n); }
};
struct ExtsFree {
  void operator()(STACK_OF(X509_EXTENSION) * s) const { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

edge::Result<std::unique_ptr<X509_NAME, NameFree>> build_name(const Subject& subject) {
  std::unique_ptr<X509_NAME, NameFree> name(X509_NAME_new());
  for (const auto& [field, value] : subject) {
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
      return edge::invalid("failed to generate csr subject: " + field + ": " + last_error());
  }
  return name;
}

bool parse_ip(const std::string& text, std::string& bytes) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
    bytes.assign(reinterpret_cast<char*>(buf), 4);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
    bytes.assign(reinterpret_cast<char*>(buf), 16);
    return true;
  }
  return false;
}

edge::Status add_ext(STACK_OF(X509_EXTENSION) * exts, int nid, const char* value) {
  X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, nullptr, nid, value);
  if (!e || !sk_X509_EXTENSION_push(exts, e)) {
    X509_EXTENSION_free(e);
    return edge::internal(std::string("failed to set csr extensions: ") + last_error());
  }
  return {};
}

edge::Status add_sans(STACK_OF(X509_EXTENSION) * exts, const std::vector<SubjectAltName>& sans) {
  if (sans.empty()) return {};
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(GENERAL_NAMES_new());
  for (const auto& san : sans) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    ASN1_STRING* s = nullptr;
    int type = GEN_DNS;
    if (san.kind == SubjectAltName::Kind::Ip) {
      std::string bytes;
      if (!parse_ip(san.value, bytes)) {
        GENERAL_NAME_free(gn);
        return edge::invalid("invalid IP address \"" + san.value + "\"");
      }
      s = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(s, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
      type = GEN_IPADD;
    } else {
      s = ASN1_IA5STRING_new();
      ASN1_STRING_set(s, san.value.data(), static_cast<int>(san.value.size()));
    }
    GENERAL_NAME_set0_value(gn, type, s);
    sk_GENERAL_NAME_push(names.get(), gn);
  }
  X509_EXTENSION* e = X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get());
  if (!e || !sk_X509_EXTENSION_push(exts, e)) {
    X509_EXTENSION_free(e);
    return edge::internal("failed to set subject alternative names: " + last_error());
  }
  return {};
}

// Version, subject, public key and extensions; the caller signs.
edge::Result<edge::crypto::X509Req> unsigned_request(const Subject& subject, EVP_PKEY* key,
                                                     STACK_OF(X509_EXTENSION) * exts) {
  auto name = EDGE_TRY(build_name(subject));
  edge::crypto::X509Req req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), name.get()) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1 ||
      (sk_X509_EXTENSION_num(exts) > 0 && X509_REQ_add_extensions(req.get(), exts) != 1))
    return edge::internal("failed to generate csr: " + last_error());
  return req;
}

edge::Result<std::string> request_pem(X509_REQ* req) {
  edge::crypto::Bio bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req) != 1) return edge::internal("failed to encode csr");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}
}  // namespace

std::vector<SubjectAltName> server_sans(const std::string& common_name, const std::string& module) {
  std::string ignored;
  auto kind = parse_ip(common_name, ignored) ? SubjectAltName::Kind::Ip : SubjectAltName::Kind::Dns;
  std::string id = module.starts_with("$") ? module.substr(1) : module;
  return {{kind, common_name}, {SubjectAltName::Kind::Dns, id}};
}

edge::Result<ModuleCsr> module_csr(const Subject& subject, const std::vector<SubjectAltName>& sans,
                                   Usage usage) {
  edge::crypto::PKey key(EVP_RSA_gen(2048));
  if (!key) return edge::internal("failed to generate csr keys: " + last_error());
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtsFree> exts(sk_X509_EXTENSION_new_null());
  EDGE_TRY_VOID(add_ext(exts.get(), NID_ext_key_usage, usage == Usage::ServerAuth ? "serverAuth" : "clientAuth"));
  EDGE_TRY_VOID(add_sans(exts.get(), sans));
  auto req = EDGE_TRY(unsigned_request(subject, key.get(), exts.get()));
  if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0)
    return edge::internal("failed to sign csr: " + last_error());
  return ModuleCsr{std::move(key), EDGE_TRY(request_pem(req.get()))};
}

edge::Result<std::string> edge_ca_csr(const Subject& subject, edge::clients::KeydClient& keyd,
                                      const std::string& handle) {
  auto public_key = EDGE_TRY(keyd.public_key(handle));
  std::unique_ptr<STACK_OF(X509_EXTENSION), ExtsFree> exts(sk_X509_EXTENSION_new_null());
  EDGE_TRY_VOID(add_ext(exts.get(), NID_key_usage, "critical,digitalSignature,keyCertSign"));
  EDGE_TRY_VOID(add_ext(exts.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  auto req = EDGE_TRY(unsigned_request(subject, public_key.get(), exts.get()));
  EDGE_TRY_VOID(edge::clients::sign_request(req.get(), public_key.get(), keyd, handle));
  return request_pem(req.get());
}

edge::Result<std::string> expiration_rfc3339(const std::string& pem) {
  edge::crypto::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  edge::crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return edge::internal("failed to parse cert");
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm) != 1) return edge::internal("failed to parse cert");
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return std::string(buf);
}

}  // namespace edged
