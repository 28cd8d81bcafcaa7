// aziot-edged (this build: the management API over the container engine; the workload API,
// identities and the agent watchdog come next). Exit code 153 on a bad config, as upstream.
#include <cstring>
#include <iostream>

#include "common/daemon.h"
#include "common/log.h"
#include "edged/config.h"
#include "edged/management.h"

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
  edged::Management mgmt({config->moby_uri.substr(7), config->agent_name, EDGE_VERSION});
  http::ServerOptions options;
  options.max_requests_per_uid = config->max_management_requests;
  options.systemd_name = "aziot-edged.mgmt.socket";
  http::Server server([&](http::Request& r) { return mgmt.handle(r); }, options);
  if (auto s = server.listen(*endpoint); !s) return daemon::report("listen on " + config->listen_management_uri, s.error());
  daemon::stop_on_signals(server);
  daemon::notify_ready();
  log::info("Starting aziot-edged management API on " + config->listen_management_uri);
  server.run();
  return 0;
}
