// The hub's REST routes: service API (registry, twins, methods, configurations, device scope)
// and the DPS device API. Admin routes are in rest_admin.cpp.
#include <openssl/ssl.h>

#include "common/log.h"
#include "emulator/hub_internal.h"
#include "emulator/rest_internal.h"

namespace emulator {
namespace rest {
namespace {

struct ErrorInfo {
  int status;
  int code;
};

// IoT Hub / DPS error names -> HTTP status and numeric error code.
ErrorInfo error_info(const std::string& name, edge::ErrorKind kind) {
  static const std::map<std::string, ErrorInfo> known = {
      {"ArgumentInvalid", {400, 400004}},
      {"BadRequest", {400, 400004}},
      {"IotHubUnauthorizedAccess", {401, 401002}},
      {"Unauthorized", {401, 401002}},
      {"DeviceNotFound", {404, 404001}},
      {"ModuleNotFound", {404, 404010}},
      {"DeviceNotOnline", {404, 404103}},
      {"NotFound", {404, 404002}},
      {"DeviceAlreadyExists", {409, 409001}},
      {"ModuleAlreadyExistsOnDevice", {409, 409301}},
      {"PreconditionFailed", {412, 412002}},
      {"RequestEntityTooLarge", {413, 413002}},
      {"GatewayTimeout", {504, 504101}},
      {"Forbidden", {403, 403002}},
      {"DeviceMaximumQueueDepthExceeded", {403, 403002}}};
  if (auto it = known.find(name); it != known.end()) return it->second;
  int status = edge::http_status(kind);
  return {status, status * 1000};
}

}  // namespace

void send_json(Response& res, int status, const Json& body) {
  res.status = status;
  if (!body.is_null()) res.set_content(body.dump(), "application/json; charset=utf-8");
}

void send_error(Response& res, const edge::Error& e) {
  std::string name = "ArgumentInvalid", text = e.message;
  if (size_t p = e.message.find(';'); p != std::string::npos && e.message.find(' ') > p) {
    name = e.message.substr(0, p);
    text = e.message.substr(p + 1);
  } else if (e.kind != edge::ErrorKind::InvalidParameter &&
             e.kind != edge::ErrorKind::Unprocessable) {
    name = "ServerError";
  }
  ErrorInfo info = error_info(name, e.kind);
  std::string tracking = detail::new_etag();
  std::string now = detail::now_iso();
  send_json(res, info.status,
            Json{{"Message", "ErrorCode:" + name + ";" + text},
                 {"ExceptionMessage", "Tracking ID:" + tracking + "-G:0-TimeStamp:" + now},
                 {"errorCode", info.code},
                 {"trackingId", tracking},
                 {"message", text},
                 {"timestampUtc", now}});
}

edge::Result<Json> body_json(const Request& req) {
  if (req.body.empty()) return Json::object();
  Json j = Json::parse(req.body, nullptr, false);
  if (j.is_discarded())
    return edge::fail(hub_error(edge::ErrorKind::InvalidParameter, "ArgumentInvalid",
                                "request body is not valid JSON"));
  return j;
}

// Service policies may do anything; a device token may manage its own modules (as identityd does).
edge::Result<Caller> authorize(Hub& hub, const Request& req, const std::string& device,
                               bool device_allowed) {
  std::string authorization = req.get_header_value("Authorization");
  if (authorization.empty() && device_allowed &&
      req.ssl)  // X.509 devices authenticate with their TLS certificate
    return hub.authenticate_rest_certificate(device,
                                             SSL_get0_peer_certificate(const_cast<SSL*>(req.ssl)),
                                             SSL_get_peer_cert_chain(const_cast<SSL*>(req.ssl)));
  auto caller = hub.authenticate_rest(authorization);
  if (!caller) return caller;
  if (caller->kind == Caller::Kind::Service) return caller;
  if (device_allowed && caller->kind == Caller::Kind::Device && caller->device_id == device)
    return caller;
  return edge::fail(hub_error(edge::ErrorKind::Unauthorized, "IotHubUnauthorizedAccess",
                              "the token does not grant access to this resource"));
}

X509* peer_certificate(const Request& req) {
  // httplib keeps the SSL* const; the peer certificate is owned by the session.
  return req.ssl ? SSL_get0_peer_certificate(const_cast<SSL*>(req.ssl)) : nullptr;
}
void route_registry(httplib::Server& s, Hub& hub) {
  s.Put(R"(/devices/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.put_device(req.matches[1], *body, req.get_header_value("If-Match"));
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  });
  s.Get(R"(/devices/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req, req.matches[1], true))) return;
    auto r = hub.get_device(req.matches[1]);
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  });
  s.Get(R"(/devices/?)", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    send_json(res, 200, hub.list_devices());
  });
  s.Delete(R"(/devices/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto r = hub.delete_device(req.matches[1], req.get_header_value("If-Match"));
    if (ok_or_send(res, r)) res.status = 204;
  });
  s.Put(R"(/devices/([^/]+)/modules/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req, req.matches[1], true))) return;
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r =
        hub.put_module(req.matches[1], req.matches[2], *body, req.get_header_value("If-Match"));
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  });
  s.Get(R"(/devices/([^/]+)/modules/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req, req.matches[1], true))) return;
    auto r = hub.get_module(req.matches[1], req.matches[2]);
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  });
  s.Get(R"(/devices/([^/]+)/modules)", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req, req.matches[1], true))) return;
    auto r = hub.list_modules(req.matches[1]);
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  });
  s.Delete(R"(/devices/([^/]+)/modules/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req, req.matches[1], true))) return;
    auto r = hub.delete_module(req.matches[1], req.matches[2], req.get_header_value("If-Match"));
    if (ok_or_send(res, r)) res.status = 204;
  });
  s.Post(R"(/devices/([^/]+)/applyConfigurationContent)", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.apply_configuration(req.matches[1], *body);
    if (ok_or_send(res, r)) res.status = 204;
  });
}

void route_twins(httplib::Server& s, Hub& hub) {
  auto twin_get = [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto r = hub.get_twin(req.matches[1], req.matches.size() > 2 ? req.matches[2].str() : "");
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  };
  auto twin_update = [&](bool replace) {
    return [&hub, replace](const Request& req, Response& res) {
      if (!ok_or_send(res, authorize(hub, req))) return;
      auto body = body_json(req);
      if (!ok_or_send(res, body)) return;
      auto r = hub.update_twin(req.matches[1], req.matches.size() > 2 ? req.matches[2].str() : "",
                               *body, req.get_header_value("If-Match"), replace);
      if (ok_or_send(res, r)) send_json(res, 200, *r);
    };
  };
  auto method = [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.invoke_method(req.matches[1], req.matches.size() > 2 ? req.matches[2].str() : "",
                               *body);
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  };
  for (const char* path : {R"(/twins/([^/]+))", R"(/twins/([^/]+)/modules/([^/]+))"}) {
    s.Get(path, twin_get);
    s.Patch(path, twin_update(false));
    s.Put(path, twin_update(true));
  }
  s.Post(R"(/twins/([^/]+)/methods)", method);
  s.Post(R"(/twins/([^/]+)/modules/([^/]+)/methods)", method);
}

// An edgeHub asks with its own ($edgeHub module) token which identities it may authenticate.
void route_scope(httplib::Server& s, Hub& hub) {
  auto edge_hub_caller = [&hub](const Request& req) -> edge::Result<Caller> {
    auto caller = hub.authenticate_rest(req.get_header_value("Authorization"));
    if (!caller) return caller;
    bool own = caller->kind == Caller::Kind::Module && caller->device_id == req.matches[1] &&
               caller->module_id == req.matches[2];
    if (caller->kind != Caller::Kind::Service && !own)
      return edge::fail(hub_error(edge::ErrorKind::Unauthorized, "IotHubUnauthorizedAccess",
                                  "only the device's own module may ask"));
    return caller;
  };
  s.Get(R"(/devices/([^/]+)/modules/([^/]+)/devicesAndModulesInDeviceScope)",
        [&, edge_hub_caller](const Request& req, Response& res) {
          if (!ok_or_send(res, edge_hub_caller(req))) return;
          auto r = hub.identities_in_scope(req.matches[1], req.matches[1]);
          if (ok_or_send(res, r)) send_json(res, 200, *r);
        });
  s.Get(R"(/devices/([^/]+)/modules/([^/]+)/deviceAndModuleInDeviceScope)",
        [&, edge_hub_caller](const Request& req, Response& res) {
          if (!ok_or_send(res, edge_hub_caller(req))) return;
          auto r = hub.identity_in_scope(req.matches[1], req.get_param_value("targetDeviceId"),
                                         req.get_param_value("targetModuleId"));
          if (ok_or_send(res, r)) send_json(res, 200, *r);
        });
  // Nested (2020-06-30-preview): authChain "target;parent;…;actor" names the target first.
  s.Post(R"(/devices/([^/]+)/modules/([^/]+)/devicesAndModulesInTargetDeviceScope)",
         [&, edge_hub_caller](const Request& req, Response& res) {
           if (!ok_or_send(res, edge_hub_caller(req))) return;
           auto body = body_json(req);
           if (!ok_or_send(res, body)) return;
           std::string chain = body->value("authChain", "");
           std::string target = chain.find(';') == std::string::npos
                                    ? (chain.empty() ? req.matches[1].str() : chain)
                                    : chain.substr(0, chain.find(';'));
           auto r = hub.identities_in_scope(req.matches[1], target);
           if (ok_or_send(res, r)) send_json(res, 200, *r);
         });
  s.Post(R"(/devices/([^/]+)/modules/([^/]+)/getDeviceAndModuleOnBehalfOf)",
         [&, edge_hub_caller](const Request& req, Response& res) {
           if (!ok_or_send(res, edge_hub_caller(req))) return;
           auto body = body_json(req);
           if (!ok_or_send(res, body)) return;
           auto r = hub.identity_in_scope(req.matches[1], body->value("targetDeviceId", ""),
                                          body->value("targetModuleId", ""));
           if (ok_or_send(res, r)) send_json(res, 200, *r);
         });
}

// DPS service API (individual enrollments), with a service token of the hub's policies.
void route_enrollments(httplib::Server& s, Hub& hub) {
  s.Put(R"(/enrollments/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    if (!body->is_object() || !body->contains("attestation"))
      return send_error(res, hub_error(edge::ErrorKind::InvalidParameter, "BadRequest",
                                       "an enrollment needs an attestation"));
    if (!body->contains("registrationId")) (*body)["registrationId"] = req.matches[1].str();
    if ((*body)["registrationId"] != req.matches[1].str())
      return send_error(res, hub_error(edge::ErrorKind::InvalidParameter, "BadRequest",
                                       "registrationId does not match the URL"));
    auto r = hub.put_enrollment(*body);
    if (ok_or_send(res, r)) send_json(res, 200, detail::enrollment_to_service(*r));
  });
  s.Get(R"(/enrollments/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto r = hub.get_enrollment(req.matches[1]);
    if (ok_or_send(res, r)) send_json(res, 200, detail::enrollment_to_service(*r));
  });
  s.Delete(R"(/enrollments/([^/]+))", [&](const Request& req, Response& res) {
    if (!ok_or_send(res, authorize(hub, req))) return;
    auto r = hub.delete_enrollment(req.matches[1]);
    if (ok_or_send(res, r)) res.status = 204;
  });
}

void route_dps(httplib::Server& s, Hub& hub) {
  route_enrollments(s, hub);
  s.Put(R"(/([^/]+)/registrations/([^/]+)/register)", [&](const Request& req, Response& res) {
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.dps_register(req.matches[1], req.matches[2], req.get_header_value("Authorization"),
                              peer_certificate(req), *body);
    if (!ok_or_send(res, r)) return;
    if (r->status == 202) res.set_header("Retry-After", "1");
    send_json(res, r->status, r->body);
  });
  s.Get(R"(/([^/]+)/registrations/([^/]+)/operations/([^/]+))",
        [&](const Request& req, Response& res) {
          auto r = hub.dps_operation(req.matches[1], req.matches[2], req.matches[3],
                                     req.get_header_value("Authorization"), peer_certificate(req));
          if (ok_or_send(res, r)) send_json(res, r->status, r->body);
        });
}

}  // namespace rest

void install_routes(httplib::Server& server, Hub& hub, const RestSettings& settings) {
  using namespace rest;
  route_registry(server, hub);
  route_twins(server, hub);
  route_scope(server, hub);
  route_dps(server, hub);
  route_admin(server, hub, settings);
  server.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    send_error(res, edge::Error{edge::ErrorKind::Internal, "ServerError;internal error"});
  });
  server.set_logger([](const Request& req, const Response& res) {
    if (res.status >= 400)
      edge::log::info("emulator: " + req.method + " " + req.path + " -> " +
                      std::to_string(res.status) + " " + res.body);
    edge::log::debug("emulator: " + req.method + " " + req.path + " -> " +
                     std::to_string(res.status));
  });
}

}  // namespace emulator