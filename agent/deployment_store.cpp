#include "agent/deployment_store.h"

#include <sys/random.h>

#include <cstdlib>

#include "common/base64.h"
#include "common/fs.h"
#include "common/http/client.h"
#include "common/log.h"
#include "common/uri.h"

namespace agent {
using edge::Result;
using edge::http::Json;

namespace {
constexpr size_t kMaxStoredBytes = 8 * 1024 * 1024;
}

std::optional<std::string> PlainFileStore::load() {
  auto text = edge::fs::read_file(path_, kMaxStoredBytes);
  if (!text) return std::nullopt;
  return *text;
}

edge::Status PlainFileStore::save(const std::string& text) {
  return edge::fs::write_atomic(path_, text, 0600);
}

Result<std::string> WorkloadEncryptedStore::iv() {
  if (auto existing = edge::fs::read_file(iv_path_, 256); existing && !existing->empty())
    return *existing;
  // A random GUID in "N" format (32 hex digits), as upstream.
  unsigned char bytes[16];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
    return edge::internal("getrandom failed");
  static const char* hex = "0123456789abcdef";
  std::string text;
  for (unsigned char b : bytes) {
    text += hex[b >> 4];
    text += hex[b & 15];
  }
  EDGE_TRY_VOID(edge::fs::write_atomic(iv_path_, text, 0600));
  return text;
}

Result<std::string> WorkloadEncryptedStore::call(const char* op, const char* in_field,
                                                 const std::string& value, const char* out_field) {
  std::string vector = EDGE_TRY(iv());
  edge::http::UnixClient client(id_.socket, std::chrono::seconds(10));
  std::string target = "/modules/" + edge::uri::percent_encode(id_.module_id) + "/genid/" +
                       edge::uri::percent_encode(id_.generation_id) + "/" + op +
                       "?api-version=" + id_.api_version;
  Json body{{in_field, value}, {"initializationVector", edge::base64::encode(vector)}};
  auto r = EDGE_TRY(client.request("POST", target, body));
  if (r.status != 200)
    return edge::internal(std::string("workload ") + op + ": " + std::to_string(r.status) + " " +
                          r.message());
  auto j = EDGE_TRY(r.json());
  if (!j.is_object() || !j.contains(out_field) || !j[out_field].is_string())
    return edge::internal(std::string("workload ") + op + " answered without " + out_field);
  return j[out_field].get<std::string>();
}

Result<std::string> WorkloadEncryptedStore::encrypt(const std::string& plaintext) {
  return call("encrypt", "plaintext", edge::base64::encode(plaintext), "ciphertext");
}

Result<std::string> WorkloadEncryptedStore::decrypt(const std::string& ciphertext_b64) {
  auto plaintext_b64 = EDGE_TRY(call("decrypt", "ciphertext", ciphertext_b64, "plaintext"));
  auto plaintext = edge::base64::decode(plaintext_b64);
  if (!plaintext) return edge::internal("workload decrypt answered invalid base64");
  return *plaintext;
}

std::optional<std::string> WorkloadEncryptedStore::load() {
  auto text = edge::fs::read_file(path_, kMaxStoredBytes);
  if (!text) return std::nullopt;
  auto plain = decrypt(*text);
  if (!plain) {
    edge::log::warn("Failed to decrypt the last good deployment: " + plain.error().message);
    return std::nullopt;
  }
  return *plain;
}

edge::Status WorkloadEncryptedStore::save(const std::string& text) {
  auto cipher = EDGE_TRY(encrypt(text));
  return edge::fs::write_atomic(path_, cipher, 0600);
}

std::unique_ptr<DeploymentStore> make_deployment_store(const std::string& dir) {
  const char* uri = std::getenv("IOTEDGE_WORKLOADURI");
  const char* genid = std::getenv("IOTEDGE_MODULEGENERATIONID");
  const char* module = std::getenv("IOTEDGE_MODULEID");
  std::string u = uri ? uri : "";
  if (u.starts_with("unix://")) {
    WorkloadIdentity id{u.substr(7), module && *module ? module : "$edgeAgent", genid ? genid : "",
                        "2022-08-03"};
    auto store = std::make_unique<WorkloadEncryptedStore>(id, dir + "/last-good.enc",
                                                          dir + "/IOTEDGE_BACKUP_IV");
    if (auto probe = store->encrypt("probe"); probe)
      return store;
    else
      edge::log::warn("The workload API does not encrypt (" + probe.error().message +
                      "): keeping the last good deployment in a plain file");
  }
  return std::make_unique<PlainFileStore>(dir + "/last-good.json");
}

}  // namespace agent
