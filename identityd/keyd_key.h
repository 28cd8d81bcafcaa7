// An OpenSSL private key whose operations run in keyd (ECDSA via /sign, RSA via /encrypt), for
// TLS client authentication and signing with keys identityd never sees. Built on OpenSSL's
// EC_KEY_METHOD / RSA_METHOD so the key is "foreign" and OpenSSL pads (PKCS#1, PSS) itself.
#pragma once
#include <string>

#include "common/crypto.h"
#include "common/result.h"

namespace identityd {

// The key pair behind `handle`; the public half is rebuilt from keyd's /parameters.
edge::Result<edge::crypto::PKey> keyd_private_key(const std::string& keyd_socket,
                                                  const std::string& handle);

}  // namespace identityd
