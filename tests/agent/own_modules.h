// Docker is shared by tests running in parallel, and an agent removes every module edged lists
// that its deployment does not name. A test's management API therefore lists only that test's
// modules (names ending with its suffix), so agents of parallel tests leave each other alone.
#pragma once
#include <string>

#include "common/http/message.h"

namespace agent_test {

inline edge::http::Response only_own_modules(edge::http::Request& r, edge::http::Response response,
                                             const std::string& suffix) {
  if (r.method != "GET" || (r.path != "/modules" && r.path != "/modules/") ||
      response.status != 200)
    return response;
  auto body = edge::http::Json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body["modules"].is_array()) return response;
  auto mine = edge::http::Json::array();
  for (const auto& m : body["modules"])
    if (m.is_object() && m.value("name", "").ends_with(suffix)) mine.push_back(m);
  body["modules"] = mine;
  response.body = body.dump();
  return response;
}

}  // namespace agent_test
