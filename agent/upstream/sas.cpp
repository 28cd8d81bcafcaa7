#include "agent/upstream/sas.h"

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>

#include "common/base64.h"
#include "common/uri.h"

namespace agent::upstream {
using edge::Result;

WorkloadSigner::WorkloadSigner(std::string socket_path, std::string module_id,
                               std::string generation_id)
    : client_(std::move(socket_path)),
      module_id_(std::move(module_id)),
      generation_id_(std::move(generation_id)) {}

Result<std::string> WorkloadSigner::sign(std::string_view data) {
  edge::http::Json body{
      {"keyId", "primary"}, {"algo", "HMACSHA256"}, {"data", edge::base64::encode(data)}};
  std::string target = "/modules/" + module_id_ + "/genid/" +
                       edge::uri::percent_encode(generation_id_) +
                       "/sign?api-version=" + kWorkloadApiVersion;
  auto r = client_.request("POST", target, body);
  if (!r) return std::unexpected(r.error().context("workload API sign"));
  if (r->status != 200)
    return edge::fail(edge::ErrorKind::Unavailable,
                      "workload API sign: " + std::to_string(r->status) + " " + r->message());
  auto j = EDGE_TRY(r->json());
  if (!j.is_object() || !j.contains("digest") || !j["digest"].is_string())
    return edge::invalid("workload API sign: the answer has no digest");
  return j["digest"].get<std::string>();
}

Result<std::string> KeySigner::sign(std::string_view data) {
  auto key = edge::base64::decode(key_.view());
  if (!key) return edge::invalid("the module key is not base64");
  edge::Secret raw(std::move(*key));
  unsigned char mac[32];
  if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), raw.data(), raw.size(),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac) != 0)
    return edge::internal("HMAC-SHA256 failed");
  std::string out =
      edge::base64::encode(std::string_view(reinterpret_cast<char*>(mac), sizeof mac));
  mbedtls_platform_zeroize(mac, sizeof mac);
  return out;
}

Result<edge::Secret> make_sas_token(Signer& signer, const std::string& resource, long long expiry) {
  std::string sr = edge::uri::percent_encode(resource);
  std::string se = std::to_string(expiry);
  auto sig = EDGE_TRY(signer.sign(sr + "\n" + se));
  return edge::Secret("SharedAccessSignature sr=" + sr + "&sig=" + edge::uri::percent_encode(sig) +
                      "&se=" + se);
}

Result<std::string> fetch_trust_bundle(const std::string& workload_socket) {
  edge::http::UnixClient client(workload_socket);
  auto r = client.request("GET", std::string("/trust-bundle?api-version=") + kWorkloadApiVersion);
  if (!r) return std::unexpected(r.error().context("workload API trust bundle"));
  if (r->status != 200)
    return edge::fail(
        edge::ErrorKind::Unavailable,
        "workload API trust bundle: " + std::to_string(r->status) + " " + r->message());
  auto j = EDGE_TRY(r->json());
  if (!j.is_object() || !j.contains("certificate") || !j["certificate"].is_string())
    return edge::invalid("workload API trust bundle: the answer has no certificate");
  return j["certificate"].get<std::string>();
}

}  // namespace agent::upstream
