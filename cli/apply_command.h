// `iotedge config apply` / `aziotctl config apply`: validate, generate, write (to /etc/aziot or
// a preview directory), restart. Environment seams for tests and packaging:
//   EDGE_CLI_ROOT             filesystem root prefix for every path apply reads or writes
//   EDGE_CLI_HOSTNAME         the machine hostname used when the config sets none
//   EDGE_CLI_UID_<USER>       uid for aziotks, aziotcs, aziotid, aziottpm, iotedge (upper-case)
#pragma once
#include <iosfwd>
#include <optional>
#include <string>

#include "cli/super_config.h"

namespace edge::cli {

struct ApplyOptions {
  Flavor flavor = Flavor::Iotedge;
  std::string config_file;                // default: <root>/etc/aziot/config.toml
  std::optional<std::string> output_dir;  // preview: write here, touch nothing else
};

// Returns the process exit code; messages go to out (progress) and err (warnings, errors).
int run_config_apply(const ApplyOptions& options, std::ostream& out, std::ostream& err);

// Hostname rules shared with `check`: RFC 1035 labels, and at most 64 characters so the name
// fits a certificate's CN.
bool is_rfc1035_valid(const std::string& hostname);
bool fits_certificate_issuer(const std::string& hostname);
bool is_ip_address(const std::string& host);

}  // namespace edge::cli
