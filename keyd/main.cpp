// aziot-keyd: parse args -> load config -> open the key store -> serve.
#include <cstring>
#include <iostream>

#include "common/daemon.h"
#include "common/log.h"
#include "keyd/idle_release.h"
#include "keyd/service.h"

int main(int argc, char** argv) {
  using namespace edge;
  daemon::init_process();
  log::init_from_env("AZIOT_LOG");
  if (argc > 1 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "aziot-keyd " << EDGE_VERSION << "\n";
    return 0;
  }
  auto config = keyd::load_config();
  if (!config) return daemon::report("load configuration", config.error());
  auto endpoint = uri::parse_endpoint(config->endpoint);
  if (!endpoint) return daemon::report("parse endpoint", endpoint.error());
  auto store = keyd::KeyStore::open(*config);
  if (!store) return daemon::report("open the key store", store.error());

  http::ServerOptions options;
  options.max_requests_per_uid = config->max_requests;
  options.systemd_name = "aziot-keyd.socket";
  keyd::Service service(*config, std::move(*store));
  // After a burst, 2 s without requests gives the freed heap back to the kernel (docs/keyd.md).
  keyd::IdleRelease idle(std::chrono::seconds(2));
  http::Server server(
      [&](http::Request& r) {
        idle.activity();
        http::Response response = service.handle(r);
        idle.activity();
        return response;
      },
      options);
  if (auto s = server.listen(*endpoint); !s)
    return daemon::report("listen on " + config->endpoint, s.error());
  daemon::stop_on_signals(server);
  daemon::notify_ready();
  log::info("Starting aziot-keyd on " + config->endpoint);
  server.run();
  return 0;
}
