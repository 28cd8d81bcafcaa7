#include "tpmd/config.h"

#include "common/config.h"

namespace tpmd {
namespace {
using edge::Result;

Result<Config> decode(const toml::table& root) {
  Config c;
  edge::config::Reader top(root);
  for (const auto& [key, node] : root) {
    std::string k(key.str());
    if (k != "max_requests" && k != "tcti" && k != "auth_key_index" &&
        k != "hierarchy_authorization" && k != "tpm_auth" && k != "endpoints")
      return top.error_at(k, "unknown key");
  }
  if (auto v = EDGE_TRY(top.opt_int("max_requests", 1, 10000)))
    c.max_requests = static_cast<size_t>(*v);
  if (auto v = EDGE_TRY(top.opt_string("tcti"))) c.tcti = *v;
  if (auto v = EDGE_TRY(top.opt_int("auth_key_index", INT64_MIN, INT64_MAX))) {
    if (*v < 0 || *v > static_cast<int64_t>(tpm::kMaxAuthKeyIndex))
      return top.error_at(
          "auth_key_index",
          "persistent handle index cannot exceed 0x7F_FF_FF (got " + std::to_string(*v) + ")");
    c.auth_key_index = static_cast<uint32_t>(*v);
  }
  // `config apply` writes [hierarchy_authorization] endorsement/owner; newer upstream
  // releases spell it [tpm_auth] endorsement/storage.
  for (const char* section : {"hierarchy_authorization", "tpm_auth"}) {
    const auto* t = EDGE_TRY(top.opt_table(section));
    if (!t) continue;
    edge::config::Reader r(*t, section);
    std::string owner_key = std::string(section) == "tpm_auth" ? "storage" : "owner";
    for (const auto& [key, node] : *t) {
      std::string k(key.str());
      if (k != "endorsement" && k != owner_key)
        return r.error_at(k, "unknown key (supported: endorsement, " + owner_key + ")");
    }
    if (auto v = EDGE_TRY(r.opt_string("endorsement"))) c.auth.endorsement = edge::Secret(*v);
    if (auto v = EDGE_TRY(r.opt_string(owner_key))) c.auth.owner = edge::Secret(*v);
    if (c.auth.endorsement.size() > 64 || c.auth.owner.size() > 64)
      return r.error_at("endorsement", "authorization values are at most 64 bytes");
  }
  if (const auto* endpoints = EDGE_TRY(top.opt_table("endpoints"))) {
    edge::config::Reader r(*endpoints, "endpoints");
    if (auto v = EDGE_TRY(r.opt_string("aziot_tpmd"))) c.endpoint = *v;
  }
  return c;
}
}  // namespace

Result<Config> parse_config(const std::string& toml_text, const std::string& name) {
  auto table = EDGE_TRY(edge::config::parse(toml_text, name));
  return decode(table);
}

Result<Config> load_config() {
  auto paths =
      edge::config::paths_from_env("AZIOT_TPMD_CONFIG", "AZIOT_TPMD_CONFIG_DIR",
                                   "/etc/aziot/tpmd/config.toml", "/etc/aziot/tpmd/config.d");
  auto table = EDGE_TRY(edge::config::load(paths));
  return decode(table);
}

}  // namespace tpmd
