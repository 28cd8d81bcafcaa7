#include "edged/config.h"

#include "common/config.h"

namespace edged {

edge::Result<Config> load_config() {
  auto paths = edge::config::paths_from_env("AZIOT_EDGED_CONFIG", "AZIOT_EDGED_CONFIG_DIR",
                                            "/etc/aziot/edged/config.toml", "/etc/aziot/edged/config.d");
  auto table = EDGE_TRY(edge::config::load(paths));
  Config c;
  edge::config::Reader top(table);
  if (auto v = EDGE_TRY(top.opt_string("homedir"))) c.homedir = *v;
  if (const auto* listen = EDGE_TRY(top.opt_table("listen"))) {
    edge::config::Reader r(*listen, "listen");
    if (auto v = EDGE_TRY(r.opt_string("management_uri"))) c.listen_management_uri = *v;
  }
  if (const auto* moby = EDGE_TRY(top.opt_table("moby_runtime"))) {
    edge::config::Reader r(*moby, "moby_runtime");
    if (auto v = EDGE_TRY(r.opt_string("uri"))) c.moby_uri = *v;
  }
  if (const auto* agent = EDGE_TRY(top.opt_table("agent"))) {
    edge::config::Reader r(*agent, "agent");
    if (auto v = EDGE_TRY(r.opt_string("name"))) c.agent_name = *v;
  }
  if (const auto* limits = EDGE_TRY(top.opt_table("iotedge_max_requests"))) {
    edge::config::Reader r(*limits, "iotedge_max_requests");
    if (auto v = EDGE_TRY(r.opt_int("management", 1, 10000))) c.max_management_requests = static_cast<size_t>(*v);
  }
  // --- workload API and Edge CA (branch workload) ---
  c.workload = EDGE_TRY(load_workload_settings(table));
  // --- end workload ---
  if (!c.moby_uri.starts_with("unix://"))
    return top.error_at("moby_runtime", "only unix:// container engine URIs are supported");
  return c;
}

}  // namespace edged
