// OpenSSL RAII handles and small primitives shared by the daemons.
#pragma once
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/hex.h"
#include "common/result.h"
#include "common/secret.h"

namespace edge::crypto {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PKeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using X509Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
inline void bio_free(BIO* b) { BIO_free_all(b); }
using Bio = std::unique_ptr<BIO, Deleter<BIO, bio_free>>;

// OpenSSL without its config file (openssl.cnf could load engines or providers into a daemon);
// call once at start-up, before any other OpenSSL call.
void init();
// The most recent OpenSSL error as text (and clears the queue).
std::string last_error();
Result<std::string> random_bytes(size_t n);
std::string sha256(std::string_view data);
Result<std::string> hmac_sha256(std::string_view key, std::string_view data);
bool constant_time_equal(std::string_view a, std::string_view b);

// PEM / DER helpers.
Result<PKey> private_key_from_pem(std::string_view pem);
Result<std::string> private_key_to_pkcs8_pem(EVP_PKEY* key);
Result<std::string> public_key_to_pem(EVP_PKEY* key);

}  // namespace edge::crypto
