#include "keyd/config.h"

#include <fnmatch.h>

#include "common/config.h"

namespace keyd {
namespace {
using edge::Result;

Result<Config> decode(const toml::table& root) {
  Config c;
  edge::config::Reader top(root);
  for (const auto& [key, node] : root) {
    std::string k(key.str());
    if (k != "max_requests" && k != "aziot_keys" && k != "preloaded_keys" && k != "principal" &&
        k != "endpoints")
      return top.error_at(k, "unknown key");
  }
  if (auto v = EDGE_TRY(top.opt_int("max_requests", 1, 10000))) c.max_requests = static_cast<size_t>(*v);

  if (const auto* keys = EDGE_TRY(top.opt_table("aziot_keys"))) {
    edge::config::Reader r(*keys, "aziot_keys");
    for (const auto& [key, node] : *keys) {
      std::string k(key.str());
      if (k != "homedir_path" && k != "pkcs11_lib_path" && k != "pkcs11_base_slot" && k != "tpm_tcti" &&
          k != "tpm_owner_auth")
        return r.error_at(k, "unknown key (supported: homedir_path, pkcs11_lib_path, pkcs11_base_slot, "
                             "tpm_tcti, tpm_owner_auth)");
    }
    if (auto v = EDGE_TRY(r.opt_string("homedir_path"))) c.homedir_path = *v;
    c.pkcs11_lib_path = EDGE_TRY(r.opt_string("pkcs11_lib_path"));
    c.pkcs11_base_slot = EDGE_TRY(r.opt_string("pkcs11_base_slot"));
    c.tpm_tcti = EDGE_TRY(r.opt_string("tpm_tcti"));
    c.tpm_owner_auth = EDGE_TRY(r.opt_string("tpm_owner_auth"));
    if (c.tpm_tcti && c.pkcs11_base_slot)
      return r.error_at("tpm_tcti", "tpm_tcti and pkcs11_base_slot cannot both be set (new keys go to one place)");
    if (c.tpm_owner_auth && !c.tpm_tcti) return r.error_at("tpm_owner_auth", "needs aziot_keys.tpm_tcti");
  }
  if (c.homedir_path.empty())
    return top.error_at("aziot_keys", "missing required key \"homedir_path\"");

  if (const auto* pre = EDGE_TRY(top.opt_table("preloaded_keys"))) {
    edge::config::Reader r(*pre, "preloaded_keys");
    for (const auto& [key, node] : *pre) {
      std::string id(key.str());
      auto uri = EDGE_TRY(r.string(id));
      if (!uri.starts_with("file://") && !uri.starts_with("pkcs11:"))
        return r.error_at(id, "expected a file:// or pkcs11: URI");
      if (uri.starts_with("pkcs11:") && !c.pkcs11_lib_path)
        return r.error_at(id, "pkcs11: keys need aziot_keys.pkcs11_lib_path");
      c.preloaded_keys[id] = uri;
    }
  }

  if (const auto* principals = EDGE_TRY(top.opt_array("principal"))) {
    for (const auto& item : *principals) {
      if (!item.is_table()) return top.error_at("principal", "expected an array of tables");
      edge::config::Reader r(*item.as_table(), "principal");
      auto uid = EDGE_TRY(r.opt_int("uid", 0, 0xFFFFFFFE));
      if (!uid) return r.error_at("uid", "missing required key");
      auto keys = EDGE_TRY(r.opt_string_array("keys"));
      if (!keys) return r.error_at("keys", "missing required key");
      c.principals.push_back({static_cast<uid_t>(*uid), std::move(*keys)});
    }
  }

  if (const auto* endpoints = EDGE_TRY(top.opt_table("endpoints"))) {
    edge::config::Reader r(*endpoints, "endpoints");
    if (auto v = EDGE_TRY(r.opt_string("aziot_keyd"))) c.endpoint = *v;
  }
  return c;
}
}  // namespace

Result<Config> parse_config(const std::string& toml_text, const std::string& name) {
  auto table = EDGE_TRY(edge::config::parse(toml_text, name));
  return decode(table);
}

Result<Config> load_config() {
  auto paths = edge::config::paths_from_env("AZIOT_KEYD_CONFIG", "AZIOT_KEYD_CONFIG_DIR",
                                            "/etc/aziot/keyd/config.toml", "/etc/aziot/keyd/config.d");
  auto table = EDGE_TRY(edge::config::load(paths));
  return decode(table);
}

bool authorized(const Config& config, uid_t uid, const std::string& id) {
  if (uid == 0) return true;
  for (const auto& p : config.principals) {
    if (p.uid != uid) continue;
    for (const auto& pattern : p.keys)
      if (::fnmatch(pattern.c_str(), id.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace keyd
