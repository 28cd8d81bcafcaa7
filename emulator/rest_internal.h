// Helpers shared by the REST route files (keep httplib.h out of every other header).
#pragma once
#include <httplib.h>

#include "emulator/hub.h"
#include "emulator/rest.h"

namespace emulator::rest {

using httplib::Request;
using httplib::Response;

void send_json(Response& res, int status, const Json& body);
// IoT Hub's error body: {"Message":"ErrorCode:<name>;<text>", "ExceptionMessage", "errorCode", …}.
void send_error(Response& res, const edge::Error& e);
template <class T>
bool ok_or_send(Response& res, const edge::Result<T>& r) {
  if (!r) send_error(res, r.error());
  return r.has_value();
}
edge::Result<Json> body_json(const Request& req);
// Service policies may do anything; a device (token or certificate) only its own resources
// when `device_allowed`.
edge::Result<Caller> authorize(Hub& hub, const Request& req, const std::string& device = {},
                               bool device_allowed = false);
X509* peer_certificate(const Request& req);

void route_registry(httplib::Server& s, Hub& hub);
void route_twins(httplib::Server& s, Hub& hub);
void route_scope(httplib::Server& s, Hub& hub);
void route_dps(httplib::Server& s, Hub& hub);
void route_admin(httplib::Server& s, Hub& hub, const RestSettings& settings);

}  // namespace emulator::rest
