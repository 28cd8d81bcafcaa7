// SAS tokens for the agent's module identity. Signing goes through a Signer: the workload API
// (production: edged holds the module key) or a key in memory (tests, tools).
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "common/http/client.h"
#include "common/result.h"
#include "common/secret.h"

namespace agent::upstream {

class Signer {
 public:
  virtual ~Signer() = default;
  // base64(HMAC-SHA256(module key, data))
  virtual edge::Result<std::string> sign(std::string_view data) = 0;
};

// POST /modules/{module}/genid/{genid}/sign?api-version=2019-01-30 on edged's workload socket.
class WorkloadSigner : public Signer {
 public:
  WorkloadSigner(std::string socket_path, std::string module_id, std::string generation_id);
  edge::Result<std::string> sign(std::string_view data) override;

 private:
  edge::http::UnixClient client_;
  std::string module_id_, generation_id_;
};

class KeySigner : public Signer {
 public:
  explicit KeySigner(edge::Secret base64_key) : key_(std::move(base64_key)) {}
  edge::Result<std::string> sign(std::string_view data) override;

 private:
  edge::Secret key_;
};

// "SharedAccessSignature sr=<urlenc resource>&sig=<urlenc sig>&se=<expiry>", signed over
// "<urlenc resource>\n<expiry>" as IoT Hub checks it.
edge::Result<edge::Secret> make_sas_token(Signer& signer, const std::string& resource,
                                          long long expiry);

// GET /trust-bundle?api-version=2019-01-30 -> the PEM certificates.
edge::Result<std::string> fetch_trust_bundle(const std::string& workload_socket);

constexpr char kWorkloadApiVersion[] = "2019-01-30";

}  // namespace agent::upstream
