// X.509 signatures made with a key pair that never leaves keyd: ECDSA through keyd's /sign,
// RSA PKCS#1 v1.5 through its /encrypt RSA-PKCS1 (the private-key operation), SHA-256 always.
#pragma once
#include <openssl/x509.h>

#include <string>

#include "common/clients/keyd_client.h"
#include "common/crypto.h"

namespace edge::clients {

// Signs `cert` (every to-be-signed field already set) with the key pair behind `handle` and
// returns the signed certificate. `issuer_key` is the public half of that key pair (the
// issuer certificate's key): it picks the algorithm and checks the result; a handle for any
// other key gives InvalidParameter "the key ... does not match".
Result<crypto::X509Ptr> sign_certificate(X509* cert, EVP_PKEY* issuer_key, KeydClient& keyd,
                                         const std::string& handle);

// Signs a certificate request in place; `public_key` is the request's key (keyd's key pair).
Status sign_request(X509_REQ* req, EVP_PKEY* public_key, KeydClient& keyd,
                    const std::string& handle);

}  // namespace edge::clients
