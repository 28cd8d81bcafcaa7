// The emulator's test PKI: a CA, a TLS server certificate signed by it, device certificates on
// request, and the checks X.509 authentication needs (thumbprints, chain to an enrolled CA).
#pragma once
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace emulator::pki {

struct CertAndKey {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
};

edge::Result<CertAndKey> make_ca(const std::string& common_name);
// Server certificate for every name and IP in `names` (IPs are recognised by their form).
edge::Result<CertAndKey> issue_server(const CertAndKey& ca, const std::vector<std::string>& names);
// Client (device) certificate with CN = common_name; optionally a CA itself (for groups).
edge::Result<CertAndKey> issue_client(const CertAndKey& ca, const std::string& common_name);
edge::Result<CertAndKey> make_self_signed_client(const std::string& common_name);

// Upper-case hex SHA-1 / SHA-256 of the DER certificate (IoT Hub accepts either as thumbprint).
std::string thumbprint_sha1(X509* cert);
std::string thumbprint_sha256(X509* cert);
std::string common_name(X509* cert);
edge::Result<std::string> thumbprint_sha1_of_pem(const std::string& pem);
// True when `cert` (with `chain` intermediates) verifies up to the PEM CA `ca_pem`.
bool chains_to(X509* cert, const std::vector<X509*>& chain, const std::string& ca_pem);

}  // namespace emulator::pki
