// The settings only `iotedge config apply` reads: agent, endpoints, Edge CA, Moby, image GC.
#include <cstdio>

#include "cli/config_parser.h"
#include "common/duration.h"

namespace edge::cli::detail {

Result<Table> Parser::agent(const Reader& root) {
  if (!root.has("agent")) return default_agent();
  Reader r = EDGE_TRY(sub(root, "agent", true));
  EDGE_TRY_VOID(check_keys(r, "agent", {"name", "type", "imagePullPolicy", "config", "env"}));
  Table a;
  auto name = EDGE_TRY(r.string("name"));
  if (name.find_first_not_of(" \t") == std::string::npos)
    return r.error_at("name", "module name cannot be empty");
  auto type = EDGE_TRY(r.string("type"));
  if (type.find_first_not_of(" \t") == std::string::npos)
    return r.error_at("type", "module type cannot be empty");
  a.set("name", name);
  a.set("type", type);
  std::string policy = "on-create";
  if (r.has("imagePullPolicy"))
    policy = EDGE_TRY(enum_string(r, "imagePullPolicy", {"on-create", "never"}));
  a.set("imagePullPolicy", policy);
  Reader c = EDGE_TRY(sub(r, "config", true));
  EDGE_TRY_VOID(check_keys(c, "agent.config",
                           {"image", "imageHash", "createOptions", "digest", "auth",
                            "allow_elevated_docker_permissions"}));
  Table config;
  auto image = EDGE_TRY(c.string("image"));
  if (image.find_first_not_of(" \t") == std::string::npos)
    return c.error_at("image", "image cannot be empty");
  config.set("image", image);
  if (auto h = EDGE_TRY(c.opt_string("imageHash"))) config.set("imageHash", *h);
  const toml::table* create = EDGE_TRY(c.opt_table("createOptions"));
  config.set("createOptions", create ? from_toml(*create) : Value(Table{}));
  if (auto d = EDGE_TRY(c.opt_string("digest"))) config.set("digest", *d);
  if (const toml::table* auth = EDGE_TRY(c.opt_table("auth"))) {
    Reader ar(*auth, "agent.config.auth");
    for (const auto& [k, v] : *auth)
      EDGE_TRY_VOID(check_misplaced(ar, "agent.config.auth", k.str()));
    Table t;
    for (auto k : {"username", "password", "email", "serveraddress"})
      if (auto v = EDGE_TRY(ar.opt_string(k))) t.set(k, *v);
    for (const auto& [k, v] : *auth)
      if (!t.find(k.str())) t.set(std::string(k.str()), from_toml(v));
    config.set("auth", t);
  }
  a.set("config", config);
  Table env;
  if (r.has("env")) {
    Reader e = EDGE_TRY(sub(r, "env", true));
    for (const auto& [k, v] : e.table()) {
      if (kTopLevelScalars.contains(k.str()))
        out_.warnings.push_back(
            "agent.env." + std::string(k.str()) + " at " + config::where(v) +
            " looks like a top-level setting written below [agent.env]; move it above the first "
            "[section] header if it was meant for IoT Edge itself");
      env.set(std::string(k.str()), EDGE_TRY(e.string(k.str())));
    }
  }
  a.set("env", env);
  return a;
}

Result<std::pair<std::string, std::string>> Parser::uri_pair(
    const Reader& root, std::string_view key, std::pair<std::string, std::string> defaults) {
  if (!root.has(key)) return defaults;
  Reader r = EDGE_TRY(sub(root, key, true));
  EDGE_TRY_VOID(check_keys(r, std::string(key), {"workload_uri", "management_uri"}));
  auto workload = EDGE_TRY(url(r, "workload_uri"));
  return std::pair{workload, EDGE_TRY(url(r, "management_uri"))};
}

Result<EdgeCa> Parser::edge_ca(const Reader& r) {
  EdgeCa ca;
  if (r.has("method")) {
    ca.kind = EdgeCa::Kind::Issued;
    ca.issued = EDGE_TRY(issuance(r, {}));
    return ca;
  }
  if (r.has("cert") || r.has("pk")) {
    EDGE_TRY_VOID(check_keys(r, "edge_ca", {"cert", "pk"}));
    ca.kind = EdgeCa::Kind::Preloaded;
    ca.cert = EDGE_TRY(file_ref(r, "cert"));
    if (!r.has("pk")) return r.error_at("pk", "missing required key");
    auto pk = EDGE_TRY(url(r, "pk"));
    if (url_scheme(pk) == "file") out_.files.push_back({"edge_ca.pk", pk});
    ca.pk = pk;
    return ca;
  }
  if (r.has("auto_generated_edge_ca_expiry_days")) {
    EDGE_TRY_VOID(
        check_keys(r, "edge_ca",
                   {"auto_generated_edge_ca_expiry_days", "auto_renew", "common_name", "subject"}));
    ca.kind = EdgeCa::Kind::Quickstart;
    ca.expiry_days = *EDGE_TRY(r.opt_int("auto_generated_edge_ca_expiry_days", 1, UINT32_MAX));
    if (r.has("auto_renew")) {
      Reader sub_reader = EDGE_TRY(sub(r, "auto_renew", true));

      ca.auto_renew = EDGE_TRY(auto_renew(sub_reader));
    }
    ca.subject = EDGE_TRY(subject(r));
    return ca;
  }
  for (const auto& [key, node] : r.table()) EDGE_TRY_VOID(check_misplaced(r, "edge_ca", key.str()));
  std::string loc = config::where(r.table());
  return invalid("invalid config" + (loc.empty() ? "" : " at " + loc) +
                 ": [edge_ca] must set `cert` and `pk`, or `method`, or "
                 "`auto_generated_edge_ca_expiry_days`");
}

Result<int64_t> Parser::duration(const Reader& r, std::string_view key) {
  std::string text = EDGE_TRY(r.string(key));
  auto seconds = edge::parse_duration(text);  // humantime syntax: "1d", "7days", "12h 30m"
  if (!seconds) return r.error_at(key, seconds.error().message);
  return *seconds;
}

Result<ImagePrune> Parser::image_gc(const Reader& r) {
  EDGE_TRY_VOID(
      check_keys(r, "image_garbage_collection",
                 {"enabled", "cleanup_recurrence", "image_age_cleanup_threshold", "cleanup_time"}));
  ImagePrune p;
  if (r.has("cleanup_recurrence")) {
    p.cleanup_recurrence_secs = EDGE_TRY(duration(r, "cleanup_recurrence"));
    if (p.cleanup_recurrence_secs % 86400 != 0 || p.cleanup_recurrence_secs == 0)
      return r.error_at("cleanup_recurrence", "expected a duration that is a multiple of days");
  }
  if (r.has("image_age_cleanup_threshold"))
    p.image_age_cleanup_threshold_secs = EDGE_TRY(duration(r, "image_age_cleanup_threshold"));
  if (auto t = EDGE_TRY(r.opt_string("cleanup_time"))) {
    int h = -1, m = -1;
    char extra = 0;
    if (std::sscanf(t->c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 ||
        m > 59)
      return r.error_at("cleanup_time", "expected a time of day \"HH:MM\", found \"" + *t + "\"");
    p.cleanup_time_minutes = h * 60 + m;
  }
  if (auto e = EDGE_TRY(r.opt_bool("enabled"))) p.enabled = *e;
  return p;
}

Result<Value> Parser::network(const Reader& m) {
  const auto* node = m.table().get("network");
  if (!node) return Value("azure-iot-edge");
  if (node->is_string()) return Value(node->as_string()->get());
  Reader n = EDGE_TRY(sub(m, "network", true));
  EDGE_TRY_VOID(check_keys(n, "moby_runtime.network", {"name", "ipv6", "ipam"}));
  Table out;
  out.set("name", EDGE_TRY(n.string("name")));
  if (auto v = EDGE_TRY(n.opt_bool("ipv6"))) out.set("ipv6", *v);
  if (n.has("ipam")) {
    Reader ipam = EDGE_TRY(sub(n, "ipam", true));
    EDGE_TRY_VOID(check_keys(ipam, "moby_runtime.network.ipam", {"config"}));
    Table ipam_out;
    if (const toml::array* configs = EDGE_TRY(ipam.opt_array("config"))) {
      Array list;
      for (const auto& item : *configs) {
        if (!item.is_table()) return ipam.error_at("config", "expected an array of tables");
        Reader c(*item.as_table(), "moby_runtime.network.ipam.config");
        EDGE_TRY_VOID(
            check_keys(c, "moby_runtime.network.ipam.config", {"gateway", "subnet", "ip_range"}));
        Table entry;
        for (auto k : {"gateway", "subnet", "ip_range"})
          if (auto v = EDGE_TRY(c.opt_string(k))) entry.set(k, *v);
        list.emplace_back(entry);
      }
      ipam_out.set("config", list);
    }
    out.set("ipam", ipam_out);
  }
  return Value(out);
}

Result<EdgeConfig> Parser::edge(const Reader& r) {
  EDGE_TRY_VOID(check_keys(r, "",
                           {"trust_bundle_cert",
                            "allow_elevated_docker_permissions",
                            "auto_reprovisioning_mode",
                            "imported_master_encryption_key",
                            "additional_info",
                            "iotedge_max_requests",
                            "hostname",
                            "parent_hostname",
                            "local_gateway_hostname",
                            "cloud_timeout_sec",
                            "cloud_retries",
                            "aziot_max_requests",
                            "prefer_module_identity_cache",
                            "provisioning",
                            "localid",
                            "aziot_keys",
                            "preloaded_keys",
                            "cert_issuance",
                            "preloaded_certs",
                            "tpm",
                            "endpoints",
                            "agent",
                            "connect",
                            "listen",
                            "watchdog",
                            "edge_ca",
                            "moby_runtime",
                            "image_garbage_collection"}));
  EdgeConfig c;
  c.aziot = EDGE_TRY(aziot(r));
  if (r.has("trust_bundle_cert")) c.trust_bundle_cert = EDGE_TRY(file_ref(r, "trust_bundle_cert"));
  c.allow_elevated_docker_permissions = EDGE_TRY(r.opt_bool("allow_elevated_docker_permissions"));
  if (r.has("auto_reprovisioning_mode"))
    c.auto_reprovisioning_mode = EDGE_TRY(
        enum_string(r, "auto_reprovisioning_mode", {"Dynamic", "AlwaysOnStartup", "OnErrorOnly"}));
  c.imported_master_encryption_key = EDGE_TRY(r.opt_string("imported_master_encryption_key"));
  if (r.has("additional_info")) {
    c.additional_info = EDGE_TRY(url(r, "additional_info"));
    if (url_scheme(*c.additional_info) != "file")
      return r.error_at("additional_info",
                        "unsupported additional_info scheme: " + url_scheme(*c.additional_info));
  }
  if (r.has("iotedge_max_requests")) {
    Reader m = EDGE_TRY(sub(r, "iotedge_max_requests", true));
    EDGE_TRY_VOID(check_keys(m, "iotedge_max_requests", {"management", "workload"}));
    auto mg = EDGE_TRY(m.opt_int("management", 1, INT32_MAX));
    auto wl = EDGE_TRY(m.opt_int("workload", 1, INT32_MAX));
    if (!mg) return m.error_at("management", "missing required key");
    if (!wl) return m.error_at("workload", "missing required key");
    c.iotedge_max_management = *mg;
    c.iotedge_max_workload = *wl;
  }
  c.agent = EDGE_TRY(agent(r));
  std::tie(c.connect_workload, c.connect_management) =
      EDGE_TRY(uri_pair(r, "connect", {c.connect_workload, c.connect_management}));
  std::tie(c.listen_workload, c.listen_management) =
      EDGE_TRY(uri_pair(r, "listen", {c.listen_workload, c.listen_management}));
  if (r.has("watchdog")) {
    Reader w = EDGE_TRY(sub(r, "watchdog", true));
    EDGE_TRY_VOID(check_keys(w, "watchdog", {"max_retries"}));
    const auto* m = w.table().get("max_retries");
    if (m && m->is_string()) {
      std::string v = m->as_string()->get();
      std::string low = v;
      for (auto& ch : low) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (low != "infinite")
        return w.error_at("max_retries",
                          "expected \"infinite\" or a non-negative integer, found \"" + v + "\"");
    } else if (m) {
      c.watchdog_max_retries = EDGE_TRY(w.opt_int("max_retries", 0, UINT32_MAX));
    }
  }
  if (r.has("edge_ca")) {
    Reader sub_reader = EDGE_TRY(sub(r, "edge_ca", true));

    c.edge_ca = EDGE_TRY(edge_ca(sub_reader));
  }
  if (r.has("moby_runtime")) {
    Reader m = EDGE_TRY(sub(r, "moby_runtime", true));
    EDGE_TRY_VOID(check_keys(m, "moby_runtime", {"uri", "network", "content_trust"}));
    c.moby_uri = EDGE_TRY(url(m, "uri"));
    c.moby_network = EDGE_TRY(network(m));
    if (m.has("content_trust")) {
      Reader ct = EDGE_TRY(sub(m, "content_trust", true));
      EDGE_TRY_VOID(check_keys(ct, "moby_runtime.content_trust", {"ca_certs"}));
      c.has_content_trust = true;
      if (ct.has("ca_certs")) {
        Reader cc = EDGE_TRY(sub(ct, "ca_certs", true));
        std::map<std::string, std::string> certs;
        for (const auto& [k, v] : cc.table()) {
          EDGE_TRY_VOID(check_misplaced(cc, "moby_runtime.content_trust.ca_certs", k.str()));
          certs[std::string(k.str())] = EDGE_TRY(file_ref(cc, k.str()));
        }
        c.content_trust_ca_certs = certs;
      }
    }
  }
  if (r.has("image_garbage_collection")) {
    Reader sub_reader = EDGE_TRY(sub(r, "image_garbage_collection", true));

    c.image_garbage_collection = EDGE_TRY(image_gc(sub_reader));
  }
  return c;
}

}  // namespace edge::cli::detail
