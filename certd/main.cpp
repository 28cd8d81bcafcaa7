// aziot-certd: parse args -> load config -> open the cert store -> serve.
#include <cstring>
#include <iostream>

#include "certd/service.h"
#include "certd/watcher.h"
#include "common/crypto.h"
#include "common/daemon.h"
#include "common/log.h"

int main(int argc, char** argv) {
  using namespace edge;
  daemon::init_process();
  edge::crypto::init();
  log::init_from_env("AZIOT_LOG");
  if (argc > 1 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "aziot-certd " << EDGE_VERSION << "\n";
    return 0;
  }
  auto paths = certd::config_paths();
  auto config = certd::load_config(paths);
  if (!config) return daemon::report("load configuration", config.error(), daemon::kExitBadConfig);
  for (const auto& warning : config->warnings) log::warn(warning);
  auto endpoint = uri::parse_endpoint(config->endpoint);
  if (!endpoint) return daemon::report("parse endpoint", endpoint.error(), daemon::kExitBadConfig);
  auto keyd_endpoint = uri::parse_endpoint(config->keyd_endpoint);
  if (!keyd_endpoint || keyd_endpoint->kind != uri::Endpoint::Kind::Unix)
    return daemon::report(
        "parse the keyd endpoint",
        keyd_endpoint ? Error{ErrorKind::InvalidParameter, "keyd must be reached at a unix:// path"}
                      : keyd_endpoint.error(),
        daemon::kExitBadConfig);
  if (auto s = certd::CertStore::prepare(config->homedir_path); !s)
    return daemon::report("open the cert store in " + config->homedir_path, s.error());

  http::ServerOptions options;
  options.max_requests_per_uid = config->max_requests;
  options.systemd_name = "aziot-certd.socket";
  certd::Service service(*config, std::make_unique<clients::KeydClient>(keyd_endpoint->value));
  http::Server server([&](http::Request& r) { return service.handle(r); }, options);
  if (auto s = server.listen(*endpoint); !s)
    return daemon::report("listen on " + config->endpoint, s.error());
  daemon::stop_on_signals(server);  // first: threads started later inherit the blocked signals
  certd::ConfigWatcher watcher(paths, certd::kConfigReloadDebounce, [&] {
    log::info("Detected change in config files. Updating config.");
    auto reloaded = certd::load_config(paths);
    if (!reloaded) {
      log::error("Failed to reload configuration (keeping the current one): " +
                 reloaded.error().message);
      return;
    }
    for (const auto& warning : reloaded->warnings) log::warn(warning);
    service.update_config(std::move(*reloaded));
    log::info("Config update finished.");
  });
  daemon::notify_ready();
  log::info("Starting aziot-certd on " + config->endpoint);
  server.run();
  return 0;
}
