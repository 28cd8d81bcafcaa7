// `config mp`: a super-config for manual provisioning with a connection string.
#include <ostream>

#include "cli/import.h"
#include "cli/new_config_file.h"
#include "cli/toml_out.h"
#include "common/fs.h"

namespace edge::cli {

Result<std::string> mp_config(Flavor flavor, const std::string& connection_string) {
  auto cs = parse_connection_string(connection_string);
  if (!cs) return invalid("invalid connection string: " + cs.error().message);
  Table t;
  if (flavor == Flavor::Iotedge) t.set("auto_reprovisioning_mode", "OnErrorOnly");
  t.set("prefer_module_identity_cache", false);
  Table prov;
  prov.set("source", "manual");
  prov.set("connection_string", connection_string);
  t.set("provisioning", prov);
  for (const char* empty :
       {"aziot_keys", "preloaded_keys", "cert_issuance", "preloaded_certs", "tpm"})
    t.set(empty, Table{});
  if (flavor == Flavor::Iotedge) {
    t.set("agent", default_agent());
    Table connect, listen, watchdog, moby;
    connect.set("workload_uri", "unix:///var/run/iotedge/workload.sock");
    connect.set("management_uri", "unix:///var/run/iotedge/mgmt.sock");
    listen.set("workload_uri", "fd://aziot-edged.workload.socket");
    listen.set("management_uri", "fd://aziot-edged.mgmt.socket");
    watchdog.set("max_retries", "infinite");
    moby.set("uri", "unix:///var/run/docker.sock");
    moby.set("network", "azure-iot-edge");
    t.set("connect", connect);
    t.set("listen", listen);
    t.set("watchdog", watchdog);
    t.set("moby_runtime", moby);
  }
  return to_toml(t);
}

int run_config_mp(Flavor flavor, const std::string& connection_string,
                  const std::string& out_config_file, bool force, std::ostream& out,
                  std::ostream& err) {
  if (!force && exists(out_config_file))
    return failed(err, already_configured(out_config_file, "mp", flavor));
  auto config = mp_config(flavor, connection_string);
  if (!config) return failed(err, config.error().message);
  if (auto st = fs::write_atomic(out_config_file, *config, 0600); !st)
    return failed(err, st.error().message);
  bool edge = flavor == Flavor::Iotedge;
  out << (edge ? "Azure IoT Edge" : "Azure IoT Identity Service")
      << " has been configured successfully!\n"
      << "The configuration has been written to " << out_config_file << "\n"
      << "To apply the new configuration to services, run:\n\n"
      << "    sudo " << (edge ? "iotedge" : "aziotctl") << " config apply -c '" << out_config_file
      << "'\n";
  if (edge)
    out << "\nWARNING: This configuration is not suitable when using IoT Edge as a gateway.\n";
  return 0;
}

}  // namespace edge::cli
