#include "edged/startup.h"

#include "common/fs.h"
#include "common/log.h"
#include "edged/module.h"

namespace edged {
using edge::Result;
using edge::Status;

Status ensure_network(docker::Client& docker, const NetworkConfig& network) {
  // The engine's name filter matches substrings: look for the exact name in the answer.
  auto existing = EDGE_TRY(docker.list_networks(Json{{"name", {{network.name, true}}}}));
  for (const auto& n : existing)
    if (n.value("Name", "") == network.name) return {};
  Json body{{"Name", network.name}, {"EnableIPv6", network.ipv6}};
  if (!network.ipam.empty()) {
    Json pools = Json::array();
    for (const auto& p : network.ipam) {
      Json pool = Json::object();
      if (p.gateway) pool["Gateway"] = *p.gateway;
      if (p.subnet) pool["Subnet"] = *p.subnet;
      if (p.ip_range) pool["IPRange"] = *p.ip_range;
      pools.push_back(pool);
    }
    body["IPAM"] = {{"Config", pools}};
  }
  auto created = docker.create_network(body);
  if (!created)
    return edge::fail(created.error().context("could not create network " + network.name));
  edge::log::info("Created network " + network.name);
  return {};
}

namespace {
template <class F>
Status for_each_module(docker::Client& docker, const std::string& verb, F f) {
  auto modules = EDGE_TRY(docker.list_containers(module_filter()));
  std::string failures;
  for (const auto& m : modules) {
    std::string name = m.contains("Names") && !m["Names"].empty() ? m["Names"][0].get<std::string>()
                                                                  : m.value("Id", "");
    if (name.starts_with("/")) name.erase(0, 1);
    if (auto s = f(name); !s && s.error().kind != edge::ErrorKind::NotFound)
      failures += (failures.empty() ? "" : "; ") + s.error().message;
  }
  if (!failures.empty()) return edge::internal("could not " + verb + " every module: " + failures);
  return {};
}
}  // namespace

Status stop_all_modules(docker::Client& docker, int timeout_seconds) {
  return for_each_module(
      docker, "stop", [&](const std::string& name) { return docker.stop(name, timeout_seconds); });
}

Status remove_all_modules(docker::Client& docker) {
  return for_each_module(docker, "remove", [&](const std::string& name) {
    return docker.remove_container(name, true);
  });
}

Result<bool> apply_provisioning_change(docker::Client& docker, const std::string& cache_dir,
                                       const DeviceInfo& device) {
  std::string path = cache_dir + "/provisioning_state";
  std::string cached;
  if (auto text = edge::fs::read_file(path, 4096))
    cached = *text;
  else if (text.error().kind != edge::ErrorKind::NotFound)
    return edge::fail(text.error().context("could not read cached provisioning state"));
  std::string current = provisioning_digest(device);
  if (cached == current) {
    edge::log::info("Device information has not changed");
    return false;
  }
  edge::log::info("Change to device information detected: removing all modules");
  EDGE_TRY_VOID(remove_all_modules(docker));
  EDGE_TRY_VOID(edge::fs::ensure_dir(cache_dir, 0755));
  if (auto s = edge::fs::write_atomic(path, current, 0644); !s)
    return edge::fail(s.error().context("could not save provisioning cache"));
  return true;
}

}  // namespace edged
