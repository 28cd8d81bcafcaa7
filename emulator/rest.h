// The hub's REST APIs on an httplib server: service API (registry, twins, methods,
// configurations), DPS device API, and the emulator's admin API under /admin.
#pragma once
#include <string>

namespace httplib {
class Server;
}

namespace emulator {

class Hub;

struct RestSettings {
  std::string ca_file;      // served at GET /admin/ca.pem
  std::string ca_key_file;  // lets /admin/certificates issue device certificates
};

void install_routes(httplib::Server& server, Hub& hub, const RestSettings& settings);

}  // namespace emulator
