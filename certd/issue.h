// Certificates from CSRs: parsing and checking requests and chains, and building the
// to-be-signed certificate (the signature is made through keyd, see common/clients/keyd_sign.h).
#pragma once
#include <openssl/x509.h>

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/crypto.h"
#include "common/result.h"

namespace certd {

constexpr size_t kMaxCsrBytes = 64 * 1024;
constexpr size_t kMaxPemBytes = 256 * 1024;  // one certificate chain: stored, imported or issued
constexpr size_t kMaxChainCerts = 16;
constexpr int64_t kDefaultExpiryDays = 30;

using Subject = std::vector<std::pair<std::string, std::string>>;

// A PEM CSR whose self-signature verifies and whose extensions are not repeated.
edge::Result<edge::crypto::X509Req> parse_csr(std::string_view pem);
// One or more PEM certificates (at most kMaxChainCerts), leaf first.
edge::Result<std::vector<edge::crypto::X509Ptr>> parse_chain(std::string_view pem);
std::string to_pem(X509* cert);
std::string time_text(const ASN1_TIME* time);  // "Nov 22 08:00:00 2026 GMT"

struct CertTemplate {
  X509_REQ* csr = nullptr;
  const Subject* subject = nullptr;  // replaces the CSR's subject when set
  int64_t expiry_days = kDefaultExpiryDays;
  X509* issuer = nullptr;  // null: self-signed
  std::time_t now = 0;
};

// An unsigned X.509 v3 certificate: subject (CN at most 64 characters), the CSR's key and
// extensions, SKID (and AKID from the issuer) when the CSR has none, a random positive
// serial, notBefore = now, notAfter = now + expiry_days clamped to the issuer's notAfter (the
// caller makes sure the issuer has not expired). Errors are InvalidParameter with a reason.
edge::Result<edge::crypto::X509Ptr> prepare_certificate(const CertTemplate& t);

}  // namespace certd
