// aziot-edged: the management API over the container engine, the workload API with its
// per-module sockets and the Edge CA. Exit code 153 on a bad config, as upstream.
#include <atomic>
#include <cstring>
#include <iostream>

#include "common/daemon.h"
#include "common/log.h"
#include "edged/config.h"
#include "edged/management.h"
#include "edged/workload_daemon.h"

int main(int argc, char** argv) {
  using namespace edge;
  daemon::init_process();
  log::init_from_env("AZIOT_LOG");
  if (argc > 1 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "aziot-edged " << EDGE_VERSION << "\n";
    return 0;
  }
  auto config = edged::load_config();
  if (!config) return daemon::report("load configuration", config.error(), daemon::kExitBadConfig);
  auto endpoint = uri::parse_endpoint(config->listen_management_uri);
  if (!endpoint) return daemon::report("parse listen.management_uri", endpoint.error(), daemon::kExitBadConfig);

  // --- workload API and Edge CA (branch workload) ---
  if (auto w = uri::parse_endpoint(config->workload.listen_workload_uri); !w)
    return daemon::report("parse listen.workload_uri", w.error(), daemon::kExitBadConfig);
  edged::WorkloadDaemon workload(config->workload, config->homedir, config->moby_uri.substr(7));
  std::atomic<bool> never_stop{false};
  if (auto s = workload.start(never_stop); !s) return daemon::report("start the workload API", s.error());
  workload.set_renewal_hook([] { log::info("Edge CA renewed: modules get new server certificates when they restart"); });
  // --- end workload ---

  edged::ManagementOptions mgmt_options;
  mgmt_options.docker_socket = config->moby_uri.substr(7);
  mgmt_options.agent_name = config->agent_name;
  mgmt_options.hooks = workload.hooks();        // workload sockets (branch workload)
  mgmt_options.identityd = &workload.identityd();  // /identities routes (branch workload)
  edged::Management mgmt(mgmt_options);
  http::ServerOptions options;
  options.max_requests_per_uid = config->max_management_requests;
  options.systemd_name = "aziot-edged.mgmt.socket";
  http::Server server([&](http::Request& r) { return mgmt.handle(r); }, options);
  if (auto s = server.listen(*endpoint); !s) return daemon::report("listen on " + config->listen_management_uri, s.error());
  if (auto s = workload.serve(mgmt); !s) return daemon::report("serve the workload API", s.error());  // branch workload
  daemon::stop_on_signals(server);
  daemon::notify_ready();
  log::info("Starting aziot-edged management API on " + config->listen_management_uri);
  server.run();
  workload.stop();  // branch workload
  return 0;
}
