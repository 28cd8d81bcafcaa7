// GET /events (beyond upstream's management API): module container events as they happen, so
// the agent notices an exit within a second without access to the engine's socket. A stream of
// JSON lines {"name", "action", "timeNano", "exitCode"?}; an empty line is a keep-alive.
#pragma once
#include <string>

#include "common/http/router.h"

namespace edged {

// Registers GET /events (any api-version edged knows) on `router`; events come from the engine
// at `docker_socket`, only for containers edged manages (the owner label with `owner`).
void add_event_routes(edge::http::Router& router, const std::string& docker_socket,
                      const std::string& owner);

// One engine event turned into the line the route sends ("" for events it does not forward).
std::string event_line(const edge::http::Json& engine_event);

}  // namespace edged
