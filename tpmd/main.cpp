// aziot-tpmd: load config -> make sure the EK and SRK exist -> serve.
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "common/crypto.h"
#include "common/daemon.h"
#include "common/log.h"
#include "tpmd/service.h"

int main(int argc, char** argv) {
  using namespace edge;
  daemon::init_process();
  edge::crypto::init();
  log::init_from_env("AZIOT_LOG");
  if (argc > 1 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "aziot-tpmd " << EDGE_VERSION << "\n";
    return 0;
  }
  // tpm2-tss prints its own warnings for every TPM error; we report errors ourselves.
  ::setenv("TSS2_LOG", "all+NONE", 0);
  auto config = tpmd::load_config();
  if (!config) return daemon::report("load configuration", config.error(), daemon::kExitBadConfig);
  auto endpoint = uri::parse_endpoint(config->endpoint);
  if (!endpoint) return daemon::report("parse endpoint", endpoint.error(), daemon::kExitBadConfig);

  tpmd::Tpm tpm(*config);
  if (auto s = tpm.provision(); !s)
    return daemon::report("provision the endorsement key and storage root key", s.error());

  http::ServerOptions options;
  options.max_requests_per_uid = config->max_requests;
  options.systemd_name = "aziot-tpmd.socket";
  tpmd::Service service(tpm);
  http::Server server([&](http::Request& r) { return service.handle(r); }, options);
  if (auto s = server.listen(*endpoint); !s)
    return daemon::report("listen on " + config->endpoint, s.error());
  daemon::stop_on_signals(server);
  daemon::notify_ready();
  log::info("Starting aziot-tpmd on " + config->endpoint);
  server.run();
  return 0;
}
