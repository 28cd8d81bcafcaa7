// The part of aziot-edged's config the workload API and the Edge CA read: hostname, the
// certd ids of the Edge CA and trust bundles, [edge_ca], the workload socket URIs, the
// workload request limit and (tests, non-default layouts) the identity services' sockets.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "common/result.h"

namespace edged {

// "80%" of the lifetime, or a fixed time before expiry ("90min", "2day"), as upstream.
struct RenewalTime {
  int percent = 0;      // 1..99 when set
  long long seconds = 0;  // > 0 when percent == 0
};
edge::Result<RenewalTime> parse_renewal_time(const std::string& text);

struct AutoRenew {
  bool rotate_key = true;
  RenewalTime threshold{80, 0};
  RenewalTime retry{4, 0};
};

using Subject = std::vector<std::pair<std::string, std::string>>;  // (field, value): CN, L, ...

struct EdgeCaSettings {
  std::string cert_id = "aziot-edged-ca";
  std::string key_id = "aziot-edged-ca";
  Subject subject;  // empty: CN = "aziot-edge CA <device id>"
  std::optional<AutoRenew> auto_renew;
};

struct WorkloadSettings {
  std::string hostname;
  std::string trust_bundle_cert = "aziot-edged-trust-bundle";
  std::string manifest_trust_bundle_cert = "aziot-edged-manifest-trust-bundle";
  EdgeCaSettings edge_ca;
  std::string listen_workload_uri = "fd://aziot-edged.workload.socket";
  std::string connect_workload_uri = "unix:///var/run/iotedge/workload.sock";
  size_t max_workload_requests = 10;
  std::string keyd_socket = "/run/aziot/keyd.sock";
  std::string certd_socket = "/run/aziot/certd.sock";
  std::string identityd_socket = "/run/aziot/identityd.sock";
};

// Reads those keys from edged's merged config table; absent keys keep upstream's defaults.
edge::Result<WorkloadSettings> load_workload_settings(const toml::table& top);

}  // namespace edged
