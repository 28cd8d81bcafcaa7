#include "certd/service.h"

#include <ctime>

#include "certd/issue.h"
#include "common/clients/keyd_sign.h"

namespace certd {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;
using edge::http::Json;
using edge::http::Request;
using edge::http::Response;
namespace http = edge::http;

namespace {
const http::ApiRange kAll{"2020-09-01", ""};

std::unexpected<edge::Error> bad_parameter(const std::string& name, const std::string& why) {
  return invalid("parameter \"" + name + "\" has an invalid value\ncaused by: " + why);
}

// Errors of a key lookup or signature: bad handles and keys that do not fit are the caller's
// (400); keyd refusing certd itself (401) is certd's configuration problem, not the caller's.
std::unexpected<edge::Error> key_error(const edge::Error& e, const std::string& parameter,
                                       const std::string& what) {
  if (e.kind == ErrorKind::InvalidParameter)
    return bad_parameter(parameter, what + ": " + e.message);
  if (e.kind == ErrorKind::Unauthorized) return edge::internal(what + ": " + e.message);
  return fail(e.context(what));
}

edge::Status authorize(const Config& config, uid_t uid, const std::string& id) {
  if (authorized(config, uid, id)) return {};
  return fail(ErrorKind::Unauthorized,
              "user " + std::to_string(uid) + " is not authorized to modify the cert " + id);
}

// The stored chain of an issuer, checked: errors name `parameter`, reasons start with `prefix`.
Result<std::vector<edge::crypto::X509Ptr>> issuer_chain(const CertStore& store,
                                                        const std::string& cert_id,
                                                        const std::string& parameter,
                                                        const std::string& prefix) {
  auto pem = EDGE_TRY(store.get(cert_id));
  if (!pem) return bad_parameter(parameter, prefix + "not found");
  auto chain = parse_chain(*pem);
  if (!chain) return bad_parameter(parameter, prefix + "invalid issuer: " + chain.error().message);
  std::time_t now = std::time(nullptr);
  const ASN1_TIME* end = X509_get0_notAfter(chain->front().get());
  if (X509_cmp_time(end, &now) <= 0)
    return bad_parameter(parameter, prefix + "the issuer certificate expired on " + time_text(end));
  return chain;
}

Response pem_response(const std::string& pem) { return Response::json(201, Json{{"pem", pem}}); }
}  // namespace

Service::Service(Config config, std::unique_ptr<edge::clients::KeydClient> keyd)
    : state_(make_state(std::move(config))), keyd_(std::move(keyd)), router_({"2020-09-01"}) {
  add_routes();
}

std::shared_ptr<const Service::State> Service::make_state(Config config) {
  CertStore store(config.homedir_path, config.preloaded_certs);
  return std::make_shared<const State>(State{std::move(config), std::move(store)});
}

std::shared_ptr<const Service::State> Service::state() const {
  std::lock_guard lock(state_mutex_);
  return state_;
}

void Service::update_config(Config config) {
  auto current = state();
  config.homedir_path = current->config.homedir_path;
  config.max_requests = current->config.max_requests;
  config.endpoint = current->config.endpoint;
  config.keyd_endpoint = current->config.keyd_endpoint;
  auto next = make_state(std::move(config));
  std::lock_guard lock(state_mutex_);
  state_ = std::move(next);
}

Result<std::string> Service::create_cert(
    uid_t caller, const std::string& id, const std::string& csr_pem,
    const std::optional<std::pair<std::string, std::string>>& issuer) {
  auto s = state();
  EDGE_TRY_VOID(validate_cert_id(id));
  EDGE_TRY_VOID(authorize(s->config, caller, id));
  EDGE_TRY_VOID(s->store.check_writable(id));  // before keyd signs anything
  auto csr = parse_csr(csr_pem);
  if (!csr) return bad_parameter("csr", csr.error().message);

  auto found = s->config.cert_issuance.certs.find(id);
  const IssuanceOptions* options =
      found == s->config.cert_issuance.certs.end() ? nullptr : &found->second;
  std::vector<edge::crypto::X509Ptr> chain;
  std::string handle;
  std::string key_parameter, key_context;  // how to report a key that cannot sign
  if (issuer) {
    const auto& [issuer_id, issuer_handle] = *issuer;
    if (auto v = validate_cert_id(issuer_id); !v)
      return bad_parameter("issuer.certId", v.error().message);
    chain = EDGE_TRY(issuer_chain(s->store, issuer_id, "issuer.certId", ""));
    handle = issuer_handle;
    key_parameter = "issuer.privateKeyHandle";
    key_context = "could not sign with the issuer's key";
  } else {
    if (!options) return bad_parameter("issuer", "issuer is required for locally-issued certs");
    switch (options->method) {
      case Method::Est:
        return bad_parameter("certId", "cert \"" + id +
                                           "\" is configured for EST issuance (method = \"est\"), "
                                           "which this aziot-certd does not support yet");
      case Method::SelfSigned: {
        auto h = keyd_->load_key_pair(id);
        if (!h)
          return key_error(h.error(), "certId",
                           "cert is self_signed but key pair \"" + id + "\" could not be loaded");
        handle = *h;
        key_parameter = "csr";
        key_context =
            "could not sign with key pair \"" + id +
            "\" (self_signed certs are signed with the key pair of the same id as the cert)";
        break;
      }
      case Method::LocalCa: {
        const auto& ca = s->config.cert_issuance.local_ca;
        if (!ca)
          return bad_parameter("certId", "cert \"" + id +
                                             "\" is configured to be issued by the local CA, but "
                                             "[cert_issuance.local_ca] is not configured");
        chain = EDGE_TRY(
            issuer_chain(s->store, ca->cert, "certId", "local CA cert \"" + ca->cert + "\": "));
        auto h = keyd_->load_key_pair(ca->pk);
        if (!h)
          return key_error(h.error(), "certId",
                           "local CA key pair \"" + ca->pk + "\" could not be loaded");
        handle = *h;
        key_parameter = "certId";
        key_context = "could not sign with local CA key pair \"" + ca->pk +
                      "\" for local CA cert \"" + ca->cert + "\"";
        break;
      }
    }
  }

  X509* issuer_cert = chain.empty() ? nullptr : chain.front().get();
  CertTemplate t;
  t.csr = csr->get();
  t.subject = options && options->subject ? &*options->subject : nullptr;
  t.expiry_days = options && options->expiry_days ? *options->expiry_days : kDefaultExpiryDays;
  t.issuer = issuer_cert;
  t.now = std::time(nullptr);
  auto tbs = prepare_certificate(t);
  if (!tbs)
    return tbs.error().kind == ErrorKind::InvalidParameter
               ? bad_parameter("csr", tbs.error().message)
               : fail(tbs.error());

  EVP_PKEY* signing_public_key =
      issuer_cert ? X509_get0_pubkey(issuer_cert) : X509_REQ_get0_pubkey(csr->get());
  auto cert = edge::clients::sign_certificate(tbs->get(), signing_public_key, *keyd_, handle);
  if (!cert) return key_error(cert.error(), key_parameter, key_context);

  std::string pem = to_pem(cert->get());
  for (const auto& c : chain) pem += to_pem(c.get());
  EDGE_TRY_VOID(s->store.put(id, pem));
  return pem;
}

void Service::add_routes() {
  auto& r = router_;

  r.add("POST", "/certificates", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto id = EDGE_TRY(http::string_field(*body, "certId"));
    auto csr = EDGE_TRY(http::string_field(*body, "csr"));
    std::optional<std::pair<std::string, std::string>> issuer;
    if (body->contains("issuer") && !(*body)["issuer"].is_null()) {
      auto* i = EDGE_TRY(http::object_field(*body, "issuer"));
      issuer.emplace(EDGE_TRY(http::string_field(*i, "certId")),
                     EDGE_TRY(http::string_field(*i, "privateKeyHandle")));
    }
    return pem_response(EDGE_TRY(create_cert(req.peer.uid, id, csr, issuer)));
  });

  r.add("PUT", "/certificates/{certId}", kAll, [this](Request& req) -> Result<Response> {
    const auto& id = req.params["certId"];
    auto pem = EDGE_TRY(http::string_field(*req.json, "pem"));
    auto s = state();
    EDGE_TRY_VOID(validate_cert_id(id));
    EDGE_TRY_VOID(authorize(s->config, req.peer.uid, id));
    if (auto chain = parse_chain(pem); !chain) return bad_parameter("pem", chain.error().message);
    EDGE_TRY_VOID(s->store.put(id, pem));
    return pem_response(pem);
  });

  r.add("GET", "/certificates/{certId}", kAll, [this](Request& req) -> Result<Response> {
    const auto& id = req.params["certId"];
    EDGE_TRY_VOID(validate_cert_id(id));
    auto pem = EDGE_TRY(state()->store.get(id));
    if (!pem) return bad_parameter("id", "not found");
    return Response::json(200, Json{{"pem", *pem}});
  });

  r.add("DELETE", "/certificates/{certId}", kAll, [this](Request& req) -> Result<Response> {
    const auto& id = req.params["certId"];
    auto s = state();
    EDGE_TRY_VOID(validate_cert_id(id));
    EDGE_TRY_VOID(authorize(s->config, req.peer.uid, id));
    EDGE_TRY_VOID(s->store.remove(id));
    return Response::empty(204);
  });
}

}  // namespace certd
