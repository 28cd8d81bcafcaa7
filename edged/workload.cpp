#include "edged/workload.h"

#include "common/base64.h"
#include "common/crypto.h"
#include "edged/csr.h"
#include "edged/expose.h"
#include "edged/management.h"

namespace edged {
namespace {
using edge::ErrorKind;
using edge::Result;
using edge::http::ApiRange;
using edge::http::Request;
using edge::http::Response;

const ApiRange kV2018{"2018-06-28", ""};


template <class Semaphore>
struct Slot {
  Semaphore& s;
  explicit Slot(Semaphore& sem) : s(sem) { s.acquire(); }
  ~Slot() { s.release(); }
};

std::unexpected<edge::Error> server_error(std::string message) {
  return edge::fail(ErrorKind::Internal, std::move(message));
}

Result<std::string> decode_field(const Json& body, const char* name) {
  auto text = EDGE_TRY(edge::http::string_field(body, name));
  auto bytes = edge::base64::decode(text);
  if (!bytes)
    return edge::invalid(std::string("invalid parameter: ") + name + " is not valid base64");
  return std::move(*bytes);
}
}  // namespace

Workload::Workload(WorkloadOptions options, edge::clients::KeydClient& keyd, CertdClient& certd,
                   IdentitydClient& identityd, CallerCheck check_caller, ModuleLister list_modules)
    : options_(std::move(options)),
      keyd_(keyd),
      certd_(certd),
      identityd_(identityd),
      check_caller_(std::move(check_caller)),
      list_modules_(std::move(list_modules)),
      router_(kEdgedApiVersions) {
  add_routes();
}

Result<std::string> Workload::module_key(const std::string& module, const std::string& gen_id) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(keys_mutex_);
    auto it = keys_.find(module);
    if (it != keys_.end() && it->second.gen_id == gen_id && it->second.expires > now)
      return it->second.handle;
  }
  auto identity = identityd_.module_identity(module);
  if (!identity)
    return server_error("failed to get module identity for " + module + ": " +
                        identity.error().message);
  if (identity->auth_type.empty()) return server_error("module identity missing auth");
  if (identity->key_handle.empty()) return server_error("module identity missing key");
  if (identity->gen_id == gen_id) {
    std::lock_guard lock(keys_mutex_);
    if (keys_.size() >= kMaxKeys && !keys_.contains(module)) keys_.clear();
    keys_[module] = KnownKey{gen_id, identity->key_handle, now + kKeyTtl};
  }
  return identity->key_handle;
}

Result<Response> Workload::issue(const std::string& cert_id, const std::string& common_name,
                                 const std::vector<SubjectAltName>& sans, bool server) {
  auto csr =
      module_csr({{"CN", common_name}}, sans, server ? Usage::ServerAuth : Usage::ClientAuth);
  if (!csr) return server_error(csr.error().message);
  auto handle = keyd_.load_key_pair(options_.edge_ca_key);
  if (!handle) return server_error("failed to get edge CA key");
  auto cert = certd_.create(cert_id, csr->csr_pem, std::pair{options_.edge_ca_cert, *handle});
  if (!cert) return server_error("failed to create cert " + cert_id + ": " + cert.error().message);
  auto key_pem = edge::crypto::private_key_to_pkcs8_pem(csr->key.get());
  if (!key_pem) return server_error("failed to encode the private key");
  auto expiration = expiration_rfc3339(*cert);
  if (!expiration) return server_error(expiration.error().message);
  return Response::json(201, Json{{"privateKey", {{"type", "key"}, {"bytes", *key_pem}}},
                                  {"certificate", *cert},
                                  {"expiration", *expiration}});
}

void Workload::add_routes() {
  auto& r = router_;
  auto list = expose([this](Request&) -> Result<Response> {
    return Response::json(200, EDGE_TRY(list_modules_()));
  });
  r.add("GET", "/modules", kV2018, list);
  r.add("GET", "/modules/", kV2018, list);

  r.add("POST", "/modules/{name}/certificate/identity", kV2018,
        expose([this](Request& req) -> Result<Response> {
          const auto& name = req.params["name"];
          EDGE_TRY_VOID(check_caller_(name, req.peer.pid));
          // Upstream's SAN is a DNS entry with this literal text (sic).
          std::string uri = "URI: azureiot://" + options_.hub_name + "/devices/" +
                            options_.device_id + "/modules/" + name;
          return issue("aziot-edged/module/" + name + ":identity", name,
                       {{SubjectAltName::Kind::Dns, uri}}, false);
        }));

  r.add("POST", "/modules/{name}/genid/{genid}/certificate/server", kV2018,
        expose([this](Request& req) -> Result<Response> {
          const auto& name = req.params["name"];
          EDGE_TRY_VOID(check_caller_(name, req.peer.pid));
          if (!req.json) return edge::invalid("missing request body");
          std::string common_name = EDGE_TRY(edge::http::string_field(*req.json, "commonName"));
          std::string module = name.starts_with("$") ? name.substr(1) : name;
          return issue("aziot-edged/module/" + module + ":" + req.params["genid"] + ":server",
                       common_name, server_sans(common_name, name), true);
        }));

  r.add("POST", "/modules/{name}/genid/{genid}/sign", kV2018,
        expose([this](Request& req) -> Result<Response> {
          const auto& name = req.params["name"];
          EDGE_TRY_VOID(check_caller_(name, req.peer.pid));
          if (!req.json) return edge::invalid("missing parameter: request body");
          std::string data = EDGE_TRY(decode_field(*req.json, "data"));
          std::string handle = EDGE_TRY(module_key(name, req.params["genid"]));
          Slot slot(keyd_slots_);
          auto digest = keyd_.sign_hmac(handle, data);
          if (!digest) return server_error(digest.error().message);
          return Response::json(200, Json{{"digest", edge::base64::encode(*digest)}});
        }));

  for (bool encrypt : {true, false}) {
    r.add("POST", std::string("/modules/{name}/genid/{genid}/") + (encrypt ? "encrypt" : "decrypt"),
          kV2018, expose([this, encrypt](Request& req) -> Result<Response> {
            const auto& name = req.params["name"];
            EDGE_TRY_VOID(check_caller_(name, req.peer.pid));
            if (!req.json) return edge::invalid("missing request body");
            std::string input =
                EDGE_TRY(decode_field(*req.json, encrypt ? "plaintext" : "ciphertext"));
            std::string iv = EDGE_TRY(decode_field(*req.json, "initializationVector"));
            std::string aad = name + req.params["genid"];
            Slot slot(keyd_slots_);
            auto key = keyd_.create_key_if_not_exists(kMasterEncryptionKey, "encrypt");
            if (!key)
              return server_error("unable to load master encryption key: " + key.error().message);
            if (encrypt) {
              auto out = keyd_.encrypt_aead(*key, iv, aad, input);
              if (!out) return server_error(out.error().message);
              return Response::json(200, Json{{"ciphertext", edge::base64::encode(*out)}});
            }
            auto out = keyd_.decrypt_aead(*key, iv, aad, input);
            if (!out) return server_error(out.error().message);
            return Response::json(200, Json{{"plaintext", edge::base64::encode(*out)}});
          }));
  }

  for (bool manifest : {false, true}) {
    r.add("GET", manifest ? "/manifest-trust-bundle" : "/trust-bundle", kV2018,
          expose([this, manifest](Request&) -> Result<Response> {
            const std::string& id =
                manifest ? options_.manifest_trust_bundle : options_.trust_bundle;
            auto pem = certd_.get(id);
            if (!pem) {
              // The manifest trust bundle is optional: none is an empty certificate.
              if (manifest) return Response::json(200, Json{{"certificate", ""}});
              return edge::fail(ErrorKind::NotFound, "certificate \"" + id + "\" not found");
            }
            return Response::json(200, Json{{"certificate", *pem}});
          }));
  }
}

}  // namespace edged
