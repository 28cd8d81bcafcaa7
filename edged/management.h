// aziot-edged's management API (the module routes and system info): what the edge agent and
// the `iotedge` CLI call. Agent-only routes check that the caller's pid runs in the agent's
// container (`docker top`), as upstream.
#pragma once
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/http/router.h"
#include "edged/docker.h"

namespace edged {
class IdentitydClient;

// Workload socket lifecycle: called around the engine's start / stop /
// remove of a module so its <homedir>/mnt/<module>.sock exists before its container starts.
struct ModuleHooks {
  std::function<edge::Status(const std::string&)> before_start;
  std::function<void(const std::string&)> after_stop;
  std::function<void(const std::string&)> after_remove;
};

class ImageUse;

struct ManagementOptions {
  std::string docker_socket = "/var/run/docker.sock";
  std::string agent_name = "edgeAgent";
  std::string version = EDGE_VERSION;
  // The owner label's value on module containers (upstream's constant). Tests that share one
  // engine give each edged its own, so one test's agent never sees another's modules.
  std::string owner = "Microsoft.Azure.Devices.Edge.Agent";
  bool allow_elevated_docker_permissions = true;
  ImageUse* image_use = nullptr;         // image GC's record of pulls and creates (optional)
  ModuleHooks hooks;                     // workload sockets (none in tests of the module routes)
  IdentitydClient* identityd = nullptr;  // the /identities routes answer 500 without one
  // POST /device/reprovision (agent only): asks the daemon to stop, reprovision and exit 154.
  // Without one the route answers 500.
  std::function<void()> request_reprovision;
  // GET /systeminfo/supportbundle: `iotedge check` is run as `<iotedge> -H <host> check -o json`;
  // config files are (zip entry, path) pairs added redacted.
  std::string iotedge_program = "iotedge";
  std::string iotedge_host = "unix:///var/run/iotedge/mgmt.sock";
  std::vector<std::pair<std::string, std::string>> bundle_config_files;
};

class Management {
 public:
  explicit Management(ManagementOptions options);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

  // Is `pid` a process of `module`'s container? (leading '$' ignored)
  edge::Status authorize_module(const std::string& module, pid_t pid);
  // {"modules": [ModuleDetails...]}: the labelled containers (also served by the workload API).
  edge::Result<edge::http::Json> list_modules();
  std::vector<std::string> filters() const;
  // Engine start / stop / remove of a module with the workload socket hooks around them.
  edge::Status start_module(const std::string& name);
  edge::Status stop_module(const std::string& name, int timeout_seconds);
  edge::Status remove_module(const std::string& name);

 private:
  void add_routes();
  void add_identity_routes();
  void add_bundle_route();
  edge::Status authorize_agent(pid_t pid) { return authorize_module(options_.agent_name, pid); }
  edge::Status create(const edge::http::Json& body, bool start, const std::string& replace);

  ManagementOptions options_;
  docker::Client docker_;
  edge::http::Router router_;
};

extern const std::vector<std::string> kEdgedApiVersions;

}  // namespace edged
