// aziot-identityd: parse args -> load config -> provision (or load the saved state) -> serve.
#include <cstring>
#include <iostream>

#include "common/crypto.h"
#include "common/daemon.h"
#include "common/fs.h"
#include "common/log.h"
#include "identityd/renewal.h"
#include "identityd/service.h"
#include "identityd/watcher.h"

int main(int argc, char** argv) {
  using namespace edge;
  daemon::init_process();
  edge::crypto::init();
  log::init_from_env("AZIOT_LOG");
  if (argc > 1 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "aziot-identityd " << EDGE_VERSION << "\n";
    return 0;
  }
  auto config = identityd::load_config();
  if (!config) return daemon::report("load configuration", config.error(), daemon::kExitBadConfig);
  for (const auto& w : config->warnings) log::warn(w);
  auto endpoint = uri::parse_endpoint(config->endpoints.identityd);
  if (!endpoint) return daemon::report("parse endpoint", endpoint.error(), daemon::kExitBadConfig);
  if (auto s = fs::ensure_dir(config->homedir, 0700); !s)
    return daemon::report("create " + config->homedir, s.error());

  identityd::IdentityManager manager(*config);
  if (auto s = manager.start(); !s) return daemon::report("provision the device", s.error());

  http::ServerOptions options;
  options.max_requests_per_uid = config->max_requests;
  options.systemd_name = "aziot-identityd.socket";
  identityd::Service service(manager);
  http::Server server([&](http::Request& r) { return service.handle(r); }, options);
  if (auto s = server.listen(*endpoint); !s)
    return daemon::report("listen on " + config->endpoints.identityd, s.error());
  daemon::stop_on_signals(server);
  identityd::ConfigWatcher watcher(identityd::config_paths(), [&](identityd::Config next) {
    if (auto s = manager.update_config(std::move(next)); !s)
      log::warn("Failed to apply the changed configuration: " + s.error().message);
  });
  // Device identity certificate auto-renewal (a no-op unless identity_auto_renew is configured).
  identityd::RenewalTimer renewal([&] { return manager.renew_identity_if_due(); });
  daemon::notify_ready();
  log::info("Starting aziot-identityd on " + config->endpoints.identityd);
  server.run();
  return 0;
}
