// Certificate requests aziot-edged sends to certd: module certs (an RSA-2048 key made here,
// CN, SANs, EKU) and the Edge CA (a keyd key pair, CA extensions), with upstream's contents.
#pragma once
#include <string>
#include <vector>

#include "common/clients/keyd_client.h"
#include "common/crypto.h"
#include "edged/workload_config.h"

namespace edged {

struct SubjectAltName {
  enum class Kind { Dns, Ip } kind = Kind::Dns;
  std::string value;
};

// A server cert's SANs as upstream: the common name (IP SAN when it parses as an IP address,
// DNS otherwise) and the module id without a leading '$'.
std::vector<SubjectAltName> server_sans(const std::string& common_name, const std::string& module);

enum class Usage { ServerAuth, ClientAuth, EdgeCa };

// A fresh RSA-2048 key and a SHA-256 CSR signed with it. InvalidParameter when the subject
// cannot be built (e.g. a CN over 64 characters) or a SAN is unusable.
struct ModuleCsr {
  edge::crypto::PKey key;
  std::string csr_pem;
};
edge::Result<ModuleCsr> module_csr(const Subject& subject, const std::vector<SubjectAltName>& sans,
                                   Usage usage);

// A CSR for the keyd key pair `handle` (signed through keyd): keyUsage critical
// digitalSignature+keyCertSign, basicConstraints critical CA:TRUE pathlen:0.
edge::Result<std::string> edge_ca_csr(const Subject& subject, edge::clients::KeydClient& keyd,
                                      const std::string& handle);

// notAfter of the first certificate of a PEM chain as RFC 3339 ("2024-02-01T00:00:00+00:00").
edge::Result<std::string> expiration_rfc3339(const std::string& pem);

}  // namespace edged
