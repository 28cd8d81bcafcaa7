// The emulator's admin API (/admin/…): no token, loopback only; for tests, scripts and the demo.
#include "common/fs.h"
#include "emulator/pki.h"
#include "emulator/rest_internal.h"

namespace emulator::rest {

void route_admin(httplib::Server& s, Hub& hub, const RestSettings& settings) {
  s.Get("/admin/info", [&hub, settings](const Request&, Response& res) {
    // info.json (written by the plugin once it listens) has the ports; the hub knows the rest.
    Json info = hub.info();
    if (auto text = edge::fs::read_file(hub.config().state_dir + "/info.json")) {
      Json file = Json::parse(*text, nullptr, false);
      if (file.is_object()) info.update(file);
    }
    info["caFile"] = settings.ca_file;
    send_json(res, 200, info);
  });
  s.Get("/admin/ca.pem", [settings](const Request&, Response& res) {
    auto pem = edge::fs::read_file(settings.ca_file);
    if (ok_or_send(res, pem)) res.set_content(*pem, "application/x-pem-file");
  });
  auto post = [&](const char* path, auto fn) {
    s.Post(path, [&hub, fn](const Request& req, Response& res) {
      auto body = body_json(req);
      if (!ok_or_send(res, body)) return;
      auto r = fn(hub, *body);
      if (ok_or_send(res, r)) send_json(res, 200, *r);
    });
  };
  post("/admin/devices", [](Hub& h, const Json& b) { return h.admin_create_device(b); });
  post("/admin/enrollments", [](Hub& h, const Json& b) { return h.put_enrollment(b); });
  post("/admin/enrollment-groups", [](Hub& h, const Json& b) { return h.put_enrollment_group(b); });
  post("/admin/certificate-authorities",
       [](Hub& h, const Json& b) { return h.put_certificate_authority(b); });
  s.Post("/admin/certificates", [settings](const Request& req, Response& res) {
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    std::string cn = body->value("commonName", "");
    if (cn.empty())
      return send_error(res,
                        edge::Error{edge::ErrorKind::InvalidParameter, "commonName is required"});
    edge::Result<pki::CertAndKey> cert = edge::internal("unset");
    if (body->value("selfSigned", false)) {
      cert = pki::make_self_signed_client(cn);
    } else if (body->value("ca", false)) {
      cert = pki::make_ca(cn);
    } else {
      auto ca_cert = edge::fs::read_file(
          body->value("issuerCertificate", Json()).is_string() ? "" : settings.ca_file);
      pki::CertAndKey issuer;
      if (body->value("issuerCertificate", Json()).is_string()) {
        issuer = {body->value("issuerCertificate", ""), body->value("issuerKey", "")};
      } else {
        auto key = edge::fs::read_file(settings.ca_key_file);
        if (!ok_or_send(res, ca_cert) || !ok_or_send(res, key)) return;
        issuer = {*ca_cert, *key};
      }
      cert = pki::issue_client(issuer, cn);
    }
    if (!ok_or_send(res, cert)) return;
    auto tp = pki::thumbprint_sha1_of_pem(cert->cert_pem);
    send_json(res, 200,
              Json{{"certificate", cert->cert_pem},
                   {"privateKey", cert->key_pem},
                   {"thumbprint", tp.value_or("")}});
  });
  auto twin = [&hub](const Request& req, Response& res) {
    auto r = hub.get_twin(req.matches[1], req.matches.size() > 2 ? req.matches[2].str() : "");
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  };
  s.Get(R"(/admin/twins/([^/]+))", twin);
  s.Get(R"(/admin/twins/([^/]+)/modules/([^/]+))", twin);
  s.Get(R"(/admin/devices/([^/]+))", [&hub](const Request& req, Response& res) {
    auto r = hub.get_device(req.matches[1]);
    if (!ok_or_send(res, r)) return;
    Json out = {{"device", *r},
                {"connectionString", hub.connection_string(req.matches[1])},
                {"connections", hub.connections(req.matches[1])}};
    send_json(res, 200, out);
  });
  // Service operations without a token, for scripts and the demo (curl-friendly).
  s.Post(R"(/admin/devices/([^/]+)/deployment)", [&hub](const Request& req, Response& res) {
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.apply_configuration(req.matches[1], *body);
    if (ok_or_send(res, r)) res.status = 204;
  });
  s.Post(R"(/admin/devices/([^/]+)/messages)", [&hub](const Request& req, Response& res) {
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.send_c2d(req.matches[1], *body);
    if (ok_or_send(res, r)) res.status = 204;
  });
  s.Delete(R"(/admin/devices/([^/]+))", [&hub](const Request& req, Response& res) {
    auto r = hub.delete_device(req.matches[1], "*");
    if (ok_or_send(res, r)) res.status = 204;
  });
  auto twin_patch = [&hub](const Request& req, Response& res) {
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.update_twin(req.matches[1], req.matches.size() > 2 ? req.matches[2].str() : "",
                             *body, "*", false);
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  };
  s.Patch(R"(/admin/twins/([^/]+))", twin_patch);
  s.Patch(R"(/admin/twins/([^/]+)/modules/([^/]+))", twin_patch);
  auto method = [&hub](const Request& req, Response& res) {
    auto body = body_json(req);
    if (!ok_or_send(res, body)) return;
    auto r = hub.invoke_method(req.matches[1], req.matches.size() > 2 ? req.matches[2].str() : "",
                               *body);
    if (ok_or_send(res, r)) send_json(res, 200, *r);
  };
  s.Post(R"(/admin/methods/([^/]+))", method);
  s.Post(R"(/admin/methods/([^/]+)/modules/([^/]+))", method);
  s.Get("/admin/telemetry", [&hub](const Request& req, Response& res) {
    send_json(res, 200,
              hub.telemetry(req.get_param_value("deviceId"), req.get_param_value("moduleId")));
  });
}

}  // namespace emulator::rest
