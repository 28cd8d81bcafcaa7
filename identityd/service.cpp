#include "identityd/service.h"

namespace identityd {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;
using edge::http::Json;
using edge::http::Request;
using edge::http::Response;
namespace http = edge::http;

namespace {
const http::ApiRange kAll{"2020-09-01", ""};
const http::ApiRange kSince2021{"2021-12-01", ""};

Result<bool> local_type(const Request& req) {
  const std::string* type = req.query_param("type");
  if (!type) return invalid("parameter \"type\" is required");
  if (*type == "aziot") return false;
  if (*type == "local") return true;
  return invalid("parameter \"type\" has an invalid value\ncaused by: invalid type \"" + *type +
                 "\"");
}
}  // namespace

Caller authenticate(const Config& config, uid_t uid) {
  for (const auto& p : config.principals)
    if (p.uid == uid) return Caller{p.idtype ? CallerKind::HostProcess : CallerKind::Daemon, &p};
  if (uid == 0) return Caller{CallerKind::LocalRoot, nullptr};
  return Caller{CallerKind::Unknown, nullptr};
}

bool authorize(const Caller& caller, Operation op, const std::string& module) {
  switch (caller.kind) {
    case CallerKind::LocalRoot:
    case CallerKind::Daemon:
      return true;
    case CallerKind::Unknown:
      return op == Operation::TrustBundle;
    case CallerKind::HostProcess: {
      const Principal& p = *caller.principal;
      switch (op) {
        case Operation::TrustBundle:
          return true;
        case Operation::GetDevice:
          return !p.idtype || p.has(IdType::Device);
        case Operation::GetModule:
          return p.name == module && (p.has(IdType::Module) || p.has(IdType::Local));
        default:
          return false;
      }
    }
  }
  return false;
}

Service::Service(IdentityManager& manager)
    : manager_(manager), router_({"2020-09-01", "2021-12-01", "2022-08-01"}) {
  add_routes();
}

Status Service::require(const Request& req, Operation op, const std::string& module) {
  auto config = manager_.config();
  Caller caller = authenticate(*config, req.peer.uid);
  if (!authorize(caller, op, module)) return fail(ErrorKind::Unauthorized, "authorization error");
  return {};
}

void Service::add_routes() {
  auto& r = router_;

  r.add("GET", "/identities/identity", kAll, [this](Request& req) -> Result<Response> {
    auto config = manager_.config();  // keeps caller.principal alive
    Caller caller = authenticate(*config, req.peer.uid);
    if (caller.kind == CallerKind::Unknown)
      return fail(ErrorKind::Unauthorized, "authorization error");
    if (caller.kind != CallerKind::HostProcess || caller.principal->has(IdType::Device))
      return Response::json(200, EDGE_TRY(manager_.device_identity()));
    const Principal& p = *caller.principal;
    bool local = !p.has(IdType::Module) && p.has(IdType::Local);
    if (!p.has(IdType::Module) && !local)
      return fail(ErrorKind::Unauthorized, "authorization error");
    return Response::json(200, EDGE_TRY(manager_.get_module(p.name, local)));
  });

  r.add("GET", "/identities/provisioning", kSince2021, [this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(require(req, Operation::GetDevice));
    return Response::json(200, manager_.provisioning_info());
  });

  r.add("POST", "/identities/device", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    EDGE_TRY(http::string_field(*body, "type"));  // value not checked, as upstream
    EDGE_TRY_VOID(require(req, Operation::GetDevice));
    return Response::json(200, EDGE_TRY(manager_.device_identity()));
  });

  r.add("POST", "/identities/device/reprovision", kAll, [this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(require(req, Operation::Reprovision));
    EDGE_TRY_VOID(manager_.reprovision());
    return Response::empty(204);
  });

  r.add("GET", "/identities/modules", kAll, [this](Request& req) -> Result<Response> {
    bool local = EDGE_TRY(local_type(req));
    EDGE_TRY_VOID(require(req, Operation::ListModules));
    if (local)
      return invalid(
          "parameter \"type\" has an invalid value\ncaused by: local identities cannot be listed");
    return Response::json(200, EDGE_TRY(manager_.list_modules()));
  });

  r.add("POST", "/identities/modules", kAll, [this](Request& req) -> Result<Response> {
    auto* body = EDGE_TRY(http::require_body(req));
    auto type = EDGE_TRY(http::string_field(*body, "type"));
    auto id = EDGE_TRY(http::string_field(*body, "moduleId"));
    std::optional<LocalIdOpts> opts;
    if (body->contains("localIdOpts") && !(*body)["localIdOpts"].is_null()) {
      const auto* o = EDGE_TRY(http::object_field(*body, "localIdOpts"));
      LocalIdOpts lo;
      lo.type = EDGE_TRY(http::string_field(*o, "type"));
      if (auto a = EDGE_TRY(http::optional_string_field(*o, "attributes"))) lo.attributes = *a;
      if (lo.type != "x509" || (lo.attributes != "client" && lo.attributes != "server"))
        return fail(ErrorKind::Unprocessable, "invalid localIdOpts");
      opts = lo;
    }
    if (type != "aziot" && type != "local")
      return invalid("parameter \"type\" has an invalid value\ncaused by: invalid type \"" + type +
                     "\"");
    EDGE_TRY_VOID(require(req, Operation::CreateModule));
    return Response::json(200, EDGE_TRY(manager_.create_module(id, type == "local", opts)));
  });

  r.add("GET", "/identities/modules/{moduleId}", kAll, [this](Request& req) -> Result<Response> {
    bool local = EDGE_TRY(local_type(req));
    const auto& id = req.params["moduleId"];
    EDGE_TRY_VOID(require(req, Operation::GetModule, id));
    return Response::json(200, EDGE_TRY(manager_.get_module(id, local)));
  });

  r.add("PUT", "/identities/modules/{moduleId}", kAll, [this](Request& req) -> Result<Response> {
    bool local = EDGE_TRY(local_type(req));
    const auto& id = req.params["moduleId"];
    EDGE_TRY_VOID(require(req, Operation::UpdateModule, id));
    // The body is ignored but must be JSON (e.g. {}): upstream answers 422 without one.
    if (!req.json) return fail(ErrorKind::Unprocessable, "missing request body");
    if (local)
      return invalid(
          "parameter \"type\" has an invalid value\ncaused by: local identities cannot be updated");
    return Response::json(200, EDGE_TRY(manager_.update_module(id)));
  });

  r.add("DELETE", "/identities/modules/{moduleId}", kAll, [this](Request& req) -> Result<Response> {
    bool local = EDGE_TRY(local_type(req));
    const auto& id = req.params["moduleId"];
    EDGE_TRY_VOID(require(req, Operation::DeleteModule, id));
    EDGE_TRY_VOID(manager_.delete_module(id, local));
    return Response::empty(204);
  });

  r.add("GET", "/trust-bundle", kAll, [this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(require(req, Operation::TrustBundle));
    return Response::json(200, Json{{"certificate", manager_.trust_bundle()}});
  });
}

}  // namespace identityd
