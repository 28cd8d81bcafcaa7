// The management API's /identities routes: module identities from identityd in upstream's
// shape ({"moduleId","managedBy","generationId","authType"}); changes are for the agent only.
#include "edged/aziot_clients.h"
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

// identityd failures are 500s with identityd's message, as upstream; 4xx of our own stay.
int identities_status(const edge::Error& e) {
  return e.message.starts_with("identityd") ? 500 : edge::http_status(e.kind);
}
template <class F>
edge::http::RouteHandler expose_identities(F f) {
  return expose(f, &identities_status);
}

Result<Json> identity_json(const AziotIdentity& id, const std::string& managed_by = "iotedge") {
  if (id.module_id.empty()) return edge::invalid("missing parameter: module id");
  if (id.gen_id.empty()) return edge::invalid("missing parameter: generation id");
  return Json{{"moduleId", id.module_id},
              {"managedBy", managed_by},
              {"generationId", id.gen_id},
              {"authType", "sas"}};
}
}  // namespace

void Management::add_identity_routes() {
  auto& r = router_;
  auto client = [this]() -> Result<IdentitydClient*> {
    if (!options_.identityd) return edge::internal("identityd: not configured");
    return options_.identityd;
  };
  auto list = expose_identities([client](Request&) -> Result<Response> {
    Json identities = Json::array();
    for (const auto& id : EDGE_TRY(EDGE_TRY(client())->list_modules()))
      identities.push_back(EDGE_TRY(identity_json(id)));
    return Response::json(200, Json{{"identities", identities}});
  });
  r.add("GET", "/identities", kV2018, list);
  r.add("GET", "/identities/", kV2018, list);

  auto create = expose_identities([this, client](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(authorize_agent(req.peer.pid));
    const auto* body = EDGE_TRY(edge::http::require_body(req));
    std::string module = EDGE_TRY(edge::http::string_field(*body, "moduleId"));
    auto managed_by = EDGE_TRY(edge::http::optional_string_field(*body, "managedBy"));
    auto id = EDGE_TRY(EDGE_TRY(client())->create_module(module));
    return Response::json(200, EDGE_TRY(identity_json(id, managed_by.value_or("iotedge"))));
  });
  r.add("POST", "/identities", kV2018, create);
  r.add("POST", "/identities/", kV2018, create);

  r.add("PUT", "/identities/{moduleId}", kV2018,
        expose_identities([this, client](Request& req) -> Result<Response> {
          EDGE_TRY_VOID(authorize_agent(req.peer.pid));
          auto id = EDGE_TRY(EDGE_TRY(client())->update_module(req.params["moduleId"]));
          return Response::json(200, EDGE_TRY(identity_json(id)));
        }));

  r.add("DELETE", "/identities/{moduleId}", kV2018,
        expose_identities([this, client](Request& req) -> Result<Response> {
          EDGE_TRY_VOID(authorize_agent(req.peer.pid));
          EDGE_TRY_VOID(EDGE_TRY(client())->delete_module(req.params["moduleId"]));
          return Response::empty(204);
        }));
}

}  // namespace edged
