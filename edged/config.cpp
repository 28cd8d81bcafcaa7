#include "edged/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdio>
#include <sstream>

#include "common/uri.h"

namespace edged {
using edge::Result;
using edge::Status;
using edge::config::Reader;

namespace {

// createOptions is a TOML inline table holding Docker's JSON create body.
Json to_json(const toml::node& node) {
  if (const auto* t = node.as_table()) {
    Json o = Json::object();
    for (const auto& [k, v] : *t) o[std::string(k.str())] = to_json(v);
    return o;
  }
  if (const auto* a = node.as_array()) {
    Json arr = Json::array();
    for (const auto& v : *a) arr.push_back(to_json(v));
    return arr;
  }
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* f = node.as_floating_point()) return f->get();
  if (const auto* b = node.as_boolean()) return b->get();
  std::ostringstream text;  // dates and times: their TOML text
  node.visit([&](const auto& v) {
    if constexpr (toml::is_date<decltype(v)> || toml::is_time<decltype(v)> ||
                  toml::is_date_time<decltype(v)>)
      text << v;
  });
  return text.str();
}

Result<std::string> endpoint(const Reader& r, std::string_view key, const std::string& fallback) {
  auto v = EDGE_TRY(r.opt_string(key));
  if (!v) return fallback;
  auto e = edge::uri::parse_endpoint(*v);
  if (!e) return r.error_at(key, e.error().message);
  return *v;
}

Status agent(const Reader& top, Config& c) {
  const auto* table = EDGE_TRY(top.opt_table("agent"));
  if (!table) return {};
  Reader r(*table, "agent");
  AgentConfig& a = c.agent;
  if (auto v = EDGE_TRY(r.opt_string("name"))) {
    if (v->find_first_not_of(" \t") == std::string::npos)
      return r.error_at("name", "module name cannot be empty");
    a.name = *v;
  }
  if (auto v = EDGE_TRY(r.opt_string("type"))) {
    if (*v != "docker")
      return r.error_at("type", "unsupported module type \"" + *v + "\" (expected \"docker\")");
    a.type = *v;
  }
  if (auto v = EDGE_TRY(r.opt_string("imagePullPolicy"))) {
    std::string p = *v;
    std::transform(p.begin(), p.end(), p.begin(), ::tolower);
    if (p == "on-create")
      a.pull_policy = PullPolicy::OnCreate;
    else if (p == "never")
      a.pull_policy = PullPolicy::Never;
    else
      return r.error_at("imagePullPolicy",
                        "expected \"on-create\" or \"never\", found \"" + *v + "\"");
  }
  if (const auto* config = EDGE_TRY(r.opt_table("config"))) {
    Reader cr(*config, "agent.config");
    if (auto v = EDGE_TRY(cr.opt_string("image"))) a.image = *v;
    if (a.image.find_first_not_of(" \t") == std::string::npos)
      return cr.error_at("image", "image cannot be empty");
    // "$upstream" is resolved at start-up; the rest must be a valid reference now.
    std::string checked =
        a.image.starts_with("$upstream") ? "upstream" + a.image.substr(9) : a.image;
    if (auto ref = docker::parse_image(checked); !ref)
      return cr.error_at("image", ref.error().message);
    if (const auto* create = EDGE_TRY(cr.opt_table("createOptions"))) {
      a.create_options = to_json(*create);
      if (a.create_options.dump().size() > kMaxCreateOptionsSize)
        return cr.error_at("createOptions",
                           "larger than " + std::to_string(kMaxCreateOptionsSize) + " bytes");
    }
    if (const auto* auth = EDGE_TRY(cr.opt_table("auth"))) {
      Reader ar(*auth, "agent.config.auth");
      docker::RegistryAuth creds;
      creds.username = EDGE_TRY(ar.opt_string("username")).value_or("");
      creds.password = EDGE_TRY(ar.opt_string("password")).value_or("");
      creds.server = EDGE_TRY(ar.opt_string("serveraddress")).value_or("");
      if (!creds.username.empty() || !creds.password.empty() || !creds.server.empty())
        a.auth = creds;
    }
  }
  if (const auto* env = EDGE_TRY(r.opt_table("env"))) {
    Reader er(*env, "agent.env");
    for (const auto& [k, v] : *env)
      a.env.emplace_back(std::string(k.str()), EDGE_TRY(er.string(k.str())));
    std::sort(a.env.begin(), a.env.end());
  }
  c.agent_name = a.name;
  return {};
}

Status moby(const Reader& top, Config& c) {
  const auto* table = EDGE_TRY(top.opt_table("moby_runtime"));
  if (!table) return {};
  Reader r(*table, "moby_runtime");
  if (auto v = EDGE_TRY(r.opt_string("uri"))) c.moby_uri = *v;
  if (!c.moby_uri.starts_with("unix:///"))
    return r.error_at(
        "uri", "only unix:// container engine URIs are supported, found \"" + c.moby_uri + "\"");
  const auto* net = table->get("network");
  if (!net) return {};
  if (net->is_string()) {
    c.network.name = net->as_string()->get();
    if (c.network.name.empty()) c.network.name = "azure-iot-edge";
    return {};
  }
  const auto* nt = EDGE_TRY(r.opt_table("network"));  // errors on other types
  Reader nr(*nt, "moby_runtime.network");
  c.network.name = EDGE_TRY(nr.string("name"));
  if (c.network.name.empty()) return nr.error_at("name", "network name cannot be empty");
  c.network.ipv6 = EDGE_TRY(nr.opt_bool("ipv6")).value_or(false);
  if (const auto* ipam = EDGE_TRY(nr.opt_table("ipam"))) {
    Reader ir(*ipam, "moby_runtime.network.ipam");
    if (const auto* configs = EDGE_TRY(ir.opt_array("config"))) {
      for (const auto& item : *configs) {
        if (!item.is_table()) return ir.error_at("config", "expected an array of tables");
        Reader pr(*item.as_table(), "moby_runtime.network.ipam.config");
        IpamConfig pool;
        pool.gateway = EDGE_TRY(pr.opt_string("gateway"));
        pool.subnet = EDGE_TRY(pr.opt_string("subnet"));
        pool.ip_range = EDGE_TRY(pr.opt_string("ip_range"));
        c.network.ipam.push_back(pool);
      }
    }
  }
  return {};
}

Status image_gc(const Reader& top, Config& c) {
  const auto* table = EDGE_TRY(top.opt_table("image_garbage_collection"));
  if (!table) return {};
  Reader r(*table, "image_garbage_collection");
  ImageGcConfig& gc = c.image_gc;
  gc.enabled = EDGE_TRY(r.opt_bool("enabled")).value_or(true);
  auto duration = [&](std::string_view key, int64_t& out) -> Status {
    auto text = EDGE_TRY(r.opt_string(key));
    if (!text) return {};
    auto d = parse_duration(*text);
    if (!d) return r.error_at(key, d.error().message);
    out = *d;
    return {};
  };
  EDGE_TRY_VOID(duration("cleanup_recurrence", gc.cleanup_recurrence));
  if (gc.cleanup_recurrence <= 0 || gc.cleanup_recurrence % 86400 != 0)
    return r.error_at("cleanup_recurrence", "expected a duration that is a multiple of days");
  EDGE_TRY_VOID(duration("image_age_cleanup_threshold", gc.image_age_cleanup_threshold));
  if (auto t = EDGE_TRY(r.opt_string("cleanup_time"))) {
    int h = -1, m = -1, n = 0;
    if (std::sscanf(t->c_str(), "%2d:%2d%n", &h, &m, &n) != 2 ||
        static_cast<size_t>(n) != t->size() || h < 0 || h > 23 || m < 0 || m > 59)
      return r.error_at("cleanup_time", "expected a time of day \"HH:MM\", found \"" + *t + "\"");
    gc.cleanup_time = h * 60 + m;
  }
  return {};
}

Status watchdog(const Reader& top, Config& c) {
  const auto* table = EDGE_TRY(top.opt_table("watchdog"));
  if (!table) return {};
  Reader r(*table, "watchdog");
  const auto* v = table->get("max_retries");
  if (!v) return {};
  if (const auto* s = v->as_string()) {
    std::string text = s->get();
    std::transform(text.begin(), text.end(), text.begin(), ::tolower);
    if (text != "infinite")
      return r.error_at("max_retries",
                        "expected \"infinite\" or a number, found \"" + s->get() + "\"");
    return {};
  }
  c.watchdog_max_retries =
      static_cast<uint32_t>(*EDGE_TRY(r.opt_int("max_retries", 0, UINT32_MAX)));
  return {};
}

}  // namespace

Result<Config> parse_config(const toml::table& table) {
  Config c;
  Reader top(table);
  if (auto v = EDGE_TRY(top.opt_string("hostname"))) {
    if (v->empty() || v->size() > 255)
      return top.error_at("hostname", "invalid hostname \"" + *v + "\"");
    c.hostname = *v;
  } else {
    char host[HOST_NAME_MAX + 1] = {};
    ::gethostname(host, sizeof host - 1);
    c.hostname = host;
  }
  if (auto v = EDGE_TRY(top.opt_string("homedir"))) {
    if (!v->starts_with("/"))
      return top.error_at("homedir", "expected an absolute path, found \"" + *v + "\"");
    c.homedir = *v;
  }
  if (auto v = EDGE_TRY(top.opt_string("auto_reprovisioning_mode"))) {
    if (*v != "Dynamic" && *v != "AlwaysOnStartup" && *v != "OnErrorOnly")
      return top.error_at("auto_reprovisioning_mode",
                          "expected Dynamic, AlwaysOnStartup or OnErrorOnly, found \"" + *v + "\"");
    c.auto_reprovisioning_mode = *v;
  }
  if (auto v = EDGE_TRY(top.opt_bool("allow_elevated_docker_permissions")))
    c.allow_elevated_docker_permissions = *v;
  if (const auto* listen = EDGE_TRY(top.opt_table("listen"))) {
    Reader r(*listen, "listen");
    c.listen_management_uri = EDGE_TRY(endpoint(r, "management_uri", c.listen_management_uri));
    c.listen_workload_uri = EDGE_TRY(endpoint(r, "workload_uri", c.listen_workload_uri));
  }
  if (const auto* connect = EDGE_TRY(top.opt_table("connect"))) {
    Reader r(*connect, "connect");
    c.connect_management_uri = EDGE_TRY(endpoint(r, "management_uri", c.connect_management_uri));
    c.connect_workload_uri = EDGE_TRY(endpoint(r, "workload_uri", c.connect_workload_uri));
  }
  if (const auto* endpoints = EDGE_TRY(top.opt_table("endpoints"))) {
    Reader r(*endpoints, "endpoints");
    // upstream's key is aziot_identityd_url; aziot_identityd is our daemons' common spelling
    c.identityd_uri = EDGE_TRY(endpoint(r, "aziot_identityd", c.identityd_uri));
    c.identityd_uri = EDGE_TRY(endpoint(r, "aziot_identityd_url", c.identityd_uri));
  }
  if (const auto* limits = EDGE_TRY(top.opt_table("iotedge_max_requests"))) {
    Reader r(*limits, "iotedge_max_requests");
    if (auto v = EDGE_TRY(r.opt_int("management", 1, 10000)))
      c.max_management_requests = static_cast<size_t>(*v);
    if (auto v = EDGE_TRY(r.opt_int("workload", 1, 10000)))
      c.max_workload_requests = static_cast<size_t>(*v);
  }
  EDGE_TRY_VOID(agent(top, c));
  EDGE_TRY_VOID(moby(top, c));
  EDGE_TRY_VOID(watchdog(top, c));
  EDGE_TRY_VOID(image_gc(top, c));
  c.workload = EDGE_TRY(load_workload_settings(table));  // [edge_ca], workload sockets
  c.workload.identityd_socket = c.identityd_uri.substr(7);  // one identityd for both halves
  return c;
}

Result<Config> load_config() {
  auto paths =
      edge::config::paths_from_env("AZIOT_EDGED_CONFIG", "AZIOT_EDGED_CONFIG_DIR",
                                   "/etc/aziot/edged/config.toml", "/etc/aziot/edged/config.d");
  auto table = EDGE_TRY(edge::config::load(paths));
  return parse_config(table);
}

}  // namespace edged
