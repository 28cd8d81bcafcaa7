// aziot-edged's management API (the module routes and system info): what the edge agent and
// the `iotedge` CLI call. Agent-only routes check that the caller's pid runs in the agent's
// container (`docker top`), as upstream.
#pragma once
#include <string>

#include "common/http/router.h"
#include "edged/docker.h"

namespace edged {

struct ManagementOptions {
  std::string docker_socket = "/var/run/docker.sock";
  std::string agent_name = "edgeAgent";
  std::string version = EDGE_VERSION;
  // The owner label's value on module containers (upstream's constant). Tests that share one
  // engine give each edged its own, so one test's agent never sees another's modules.
  std::string owner = "Microsoft.Azure.Devices.Edge.Agent";
};

class Management {
 public:
  explicit Management(ManagementOptions options);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

  // Is `pid` a process of `module`'s container? (leading '$' ignored)
  edge::Status authorize_module(const std::string& module, pid_t pid);

 private:
  void add_routes();
  edge::Status authorize_agent(pid_t pid) { return authorize_module(options_.agent_name, pid); }
  edge::Status create(const edge::http::Json& body, bool start, const std::string& replace);

  ManagementOptions options_;
  docker::Client docker_;
  edge::http::Router router_;
};

extern const std::vector<std::string> kEdgedApiVersions;

}  // namespace edged
