#include "cli/import.h"

#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/new_config_file.h"
#include "cli/system.h"
#include "cli/toml_out.h"
#include "cli/uris.h"
#include "common/base64.h"
#include "common/config.h"
#include "common/fs.h"

namespace edge::cli {
namespace {

using Json = nlohmann::ordered_json;

// libiothsm derived key file names from their alias, so this one is fixed.
constexpr const char* kOldMasterKeyPath =
    "/var/lib/iotedge/hsm/enc_keys/"
    "edgelet-masterWt5mT2xpO72EPKlt2Tt0Sq4uJCrMvfl2rzzKRB3pnyo_.enc.key";

// iotedged's built-in defaults, merged under the user's file as 1.1 did.
constexpr const char* kOldDefaults = R"(
provisioning:
  source: 'manual'
agent:
  name: 'edgeAgent'
  type: 'docker'
  env: {}
  config:
    image: 'mcr.microsoft.com/azureiotedge-agent:1.6'
    auth: {}
hostname: 'localhost'
connect:
  management_uri: 'unix:///var/run/iotedge/mgmt.sock'
  workload_uri: 'unix:///var/run/iotedge/workload.sock'
listen:
  management_uri: 'unix:///var/run/iotedge/mgmt.sock'
  workload_uri: 'unix:///var/run/iotedge/workload.sock'
homedir: '/var/lib/iotedge'
moby_runtime:
  uri: 'unix:///var/run/docker.sock'
  network: 'azure-iot-edge'
certificates:
  auto_generated_ca_lifetime_days: 90
)";

// Plain (unquoted) YAML scalars are typed as YAML 1.2's core schema does.
Json scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() != "?") return s;  // quoted or explicitly tagged: a string
  if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty()) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex int_re(R"([-+]?[0-9]+)");
  static const std::regex float_re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (std::regex_match(s, int_re)) {
    try {
      return std::stoll(s);
    } catch (...) {
      return s;
    }
  }
  if (std::regex_match(s, float_re)) return std::stod(s);
  return s;
}

struct ImportError {
  std::string message;
};

[[noreturn]] void fail_import(const std::string& m) { throw ImportError{m}; }

// YAML aliases can make a small file expand into billions of nodes; an old config has a few
// dozen, so stop well before memory is at risk.
constexpr size_t kMaxYamlNodes = 100000;

Json to_json(const YAML::Node& n, size_t& budget) {
  if (budget == 0) fail_import("the document has too many nodes (aliases expand beyond 100000)");
  --budget;
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      Json o = Json::object();
      for (const auto& kv : n) o[kv.first.as<std::string>()] = to_json(kv.second, budget);
      return o;
    }
    case YAML::NodeType::Sequence: {
      Json a = Json::array();
      for (const auto& item : n) a.push_back(to_json(item, budget));
      return a;
    }
    case YAML::NodeType::Scalar:
      return scalar(n);
    default:
      return nullptr;
  }
}

void merge(Json& into, const Json& from) {
  for (const auto& [k, v] : from.items()) {
    if (into.contains(k) && into[k].is_object() && v.is_object()) {
      merge(into[k], v);
    } else {
      into[k] = v;
    }
  }
}

const Json& need(const Json& obj, const std::string& key, const std::string& path) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null())
    fail_import("missing field `" + key + "`" + (path.empty() ? "" : " in " + path));
  return obj[key];
}

std::string str(const Json& v, const std::string& what) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  fail_import(what + ": invalid type, expected a string");
}

std::optional<std::string> opt_str(const Json& obj, const std::string& key,
                                   const std::string& path) {
  if (!obj.is_object() || !obj.contains(key) || obj[key].is_null()) return std::nullopt;
  return str(obj[key], path + "." + key);
}

bool boolean(const Json& obj, const std::string& key) {
  if (!obj.contains(key) || obj[key].is_null()) return false;
  const Json& v = obj[key];
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_string() && (v == "true" || v == "false")) return v == "true";
  fail_import(key + ": invalid type, expected a boolean");
}

std::string url(const Json& v, const std::string& what) {
  auto u = normalize_url(str(v, what));
  if (!u) fail_import(what + ": " + u.error().message);
  return *u;
}

// A file path or file:// URI, as 1.1 accepted for certificates.
std::string file_uri_or_path(const Json& v, const std::string& what) {
  std::string s = str(v, what);
  auto u = normalize_url(s);
  if (!u) {
    if (s.empty() || s[0] != '/')
      fail_import(what +
                  ": Could not parse value as a file path or a file:// URI: " + u.error().message);
    return file_url_from_path(s);
  }
  if (url_scheme(*u) != "file")
    fail_import(what + ": Value has invalid scheme \"" + url_scheme(*u) +
                "\". Only \"file://\" URIs are supported.");
  return *u;
}

std::string key_location(const std::string& u, const std::string& what) {
  auto loc = normalize_key_location(u);
  if (!loc) fail_import("could not parse " + what + ": " + loc.error().message);
  return *loc;
}

std::string strict_base64(const std::string& s, const std::string& what) {
  auto bytes = base64::decode(s, false);
  if (!bytes) fail_import(what + ": could not be decoded from base64");
  return base64::encode(*bytes);
}

// 1.1's stricter connection-string parser (it validated device id and hostname).
std::tuple<std::string, std::string, std::string> old_connection_string(const std::string& s) {
  std::optional<std::string> device, host, key;
  size_t start = 0;
  while (true) {
    size_t end = s.find(';', start);
    std::string part = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (auto eq = part.find('='); eq != std::string::npos) {
      std::string k = part.substr(0, eq), v = part.substr(eq + 1);
      if (k == "DeviceId") device = v;
      if (k == "HostName") host = v;
      if (k == "SharedAccessKey") key = v;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  auto missing = [](const std::string& p) {
    return "the connection string is missing required parameter " + p;
  };
  if (!key || key->empty()) fail_import(missing("SharedAccessKey"));
  auto bytes = base64::decode(*key, false);
  if (!bytes)
    fail_import("the connection string parameter is malformed SharedAccessKey: invalid base64");
  static const std::regex device_re(R"(^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$)");
  static const std::regex host_re(R"(^[a-zA-Z0-9_\-\.]+$)");
  if (!device || !std::regex_match(*device, device_re)) fail_import(missing("DeviceId"));
  if (!host || !std::regex_match(*host, host_re)) fail_import(missing("HostName"));
  return {*device, *host, base64::encode(*bytes)};
}

// Docker's ContainerCreateBody and friends serialise their known fields in declaration order,
// then any other keys sorted; free-form JSON below them is sorted too.
Value ordered(const Json& v, const std::string& type);

Value sorted_value(const Json& v) { return ordered(v, ""); }

Table ordered_object(const Json& obj, const std::vector<std::string>& fields,
                     const std::map<std::string, std::string>& field_types) {
  Table t;
  for (const auto& f : fields) {
    if (!obj.contains(f) || obj[f].is_null()) continue;
    auto it = field_types.find(f);
    t.set(f, ordered(obj[f], it == field_types.end() ? "" : it->second));
  }
  std::map<std::string, const Json*> rest;
  for (const auto& [k, v] : obj.items())
    if (std::find(fields.begin(), fields.end(), k) == fields.end() && !v.is_null()) rest[k] = &v;
  for (const auto& [k, v] : rest) t.set(k, sorted_value(*v));
  return t;
}

Value ordered(const Json& v, const std::string& type) {
  if (v.is_object()) {
    if (type == "ContainerCreateBody")
      return ordered_object(
          v,
          {"Hostname", "Env", "Cmd", "Image", "Volumes", "Entrypoint", "Labels", "HostConfig",
           "NetworkingConfig"},
          {{"HostConfig", "HostConfig"}, {"NetworkingConfig", "NetworkingConfig"}});
    if (type == "HostConfig")
      return ordered_object(v,
                            {"Memory", "Binds", "PortBindings", "Mounts", "CapAdd", "CapDrop",
                             "ExtraHosts", "Privileged"},
                            {{"PortBindings", "PortBindingsMap"}, {"Mounts", "Mount"}});
    if (type == "PortBinding") return ordered_object(v, {"HostPort"}, {});
    if (type == "Mount") return ordered_object(v, {"Target", "Source", "Type", "ReadOnly"}, {});
    if (type == "NetworkingConfig")
      return ordered_object(v, {"EndpointsConfig"}, {{"EndpointsConfig", "EndpointsMap"}});
    if (type == "EndpointSettings") return ordered_object(v, {"NetworkID"}, {});
    std::string child;
    if (type == "PortBindingsMap") child = "PortBinding";
    if (type == "EndpointsMap") child = "EndpointSettings";
    std::map<std::string, const Json*> sorted;
    for (const auto& [k, item] : v.items())
      if (!item.is_null()) sorted[k] = &item;
    Table t;
    for (const auto& [k, item] : sorted) t.set(k, ordered(*item, child));
    return t;
  }
  if (v.is_array()) {
    Array a;
    for (const auto& item : v) a.push_back(ordered(item, type));
    return a;
  }
  if (v.is_string()) return Value(v.get<std::string>());
  if (v.is_boolean()) return Value(v.get<bool>());
  if (v.is_number_integer()) return Value(v.get<int64_t>());
  if (v.is_number_float()) return Value(v.get<double>());
  return Value(std::string());
}

Table provisioning(const Json& p, std::string& mode) {
  std::string source = str(need(p, "source", "provisioning"), "provisioning.source");
  bool dynamic = boolean(p, "dynamic_reprovisioning");
  bool always = false;
  Table out;
  if (source == "manual") {
    bool has_cs =
        p.contains("device_connection_string") && !p["device_connection_string"].is_null();
    bool has_auth = p.contains("authentication") && !p["authentication"].is_null();
    if (has_cs && has_auth)
      fail_import(
          "Only one of provisioning.device_connection_string or provisioning.authentication must "
          "be set in the config.yaml.");
    if (!has_cs && !has_auth)
      fail_import(
          "One of provisioning.device_connection_string or provisioning.authentication must be set "
          "in the config.yaml.");
    out.set("source", "manual");
    std::string cs;
    if (has_cs) {
      cs = str(p["device_connection_string"], "provisioning.device_connection_string");
    } else {
      const Json& a = p["authentication"];
      std::string method = str(need(a, "method", "provisioning.authentication"),
                               "provisioning.authentication.method");
      if (method == "device_connection_string") {
        cs = str(need(a, "device_connection_string", "provisioning.authentication"),
                 "device_connection_string");
      } else if (method == "x509") {
        out.set("iothub_hostname",
                str(need(a, "iothub_hostname", "provisioning.authentication"), "iothub_hostname"));
        out.set("device_id", str(need(a, "device_id", "provisioning.authentication"), "device_id"));
        Table auth;
        auth.set("method", "x509");
        auth.set("identity_cert",
                 url(need(a, "identity_cert", "provisioning.authentication"), "identity_cert"));
        auth.set(
            "identity_pk",
            key_location(url(need(a, "identity_pk", "provisioning.authentication"), "identity_pk"),
                         "provisioning.authentication.identity_pk"));
        out.set("authentication", auth);
      } else {
        fail_import("provisioning.authentication.method: unknown variant `" + method +
                    "`, expected `device_connection_string` or `x509`");
      }
    }
    if (!cs.empty()) {
      auto [device, host, key] = old_connection_string(cs);
      out.set("iothub_hostname", host);
      out.set("device_id", device);
      Table auth, pk;
      auth.set("method", "sas");
      pk.set("value", key);
      auth.set("device_id_pk", pk);
      out.set("authentication", auth);
    }
  } else if (source == "dps") {
    out.set("source", "dps");
    out.set("global_endpoint",
            url(need(p, "global_endpoint", "provisioning"), "provisioning.global_endpoint"));
    out.set("id_scope", str(need(p, "scope_id", "provisioning"), "provisioning.scope_id"));
    always = boolean(p, "always_reprovision_on_startup");
    bool has_att = p.contains("attestation") && !p["attestation"].is_null();
    auto reg = opt_str(p, "registration_id", "provisioning");
    Table att;
    if (has_att && reg)
      fail_import("Provisioning registration_id has to be set only in attestation");
    if (!has_att && !reg) fail_import("Provisioning registration_id has to be set");
    if (!has_att) {
      att.set("method", "tpm");
      att.set("registration_id", *reg);
    } else {
      const Json& a = p["attestation"];
      std::string method =
          str(need(a, "method", "provisioning.attestation"), "provisioning.attestation.method");
      att.set("method", method);
      if (method == "tpm") {
        att.set("registration_id",
                str(need(a, "registration_id", "provisioning.attestation"), "registration_id"));
      } else if (method == "symmetric_key") {
        att.set("registration_id",
                str(need(a, "registration_id", "provisioning.attestation"), "registration_id"));
        Table key;
        key.set("value", strict_base64(str(need(a, "symmetric_key", "provisioning.attestation"),
                                           "symmetric_key"),
                                       "provisioning.attestation.symmetric_key"));
        att.set("symmetric_key", key);
      } else if (method == "x509") {
        if (auto r = opt_str(a, "registration_id", "provisioning.attestation"))
          att.set("registration_id", *r);
        att.set("identity_cert",
                url(need(a, "identity_cert", "provisioning.attestation"), "identity_cert"));
        att.set("identity_pk",
                key_location(url(need(a, "identity_pk", "provisioning.attestation"), "identity_pk"),
                             "provisioning.attestation.identity_pk"));
      } else {
        fail_import("provisioning.attestation.method: unknown variant `" + method +
                    "`, expected one of `tpm`, `symmetric_key`, `x509`");
      }
    }
    out.set("attestation", att);
  } else if (source == "external") {
    fail_import("external provisioning is not supported.");
  } else {
    fail_import("provisioning.source: unknown variant `" + source +
                "`, expected one of `manual`, `dps`, `external`");
  }
  // Dynamic reprovisioning wins: it also reprovisions before the daemon restarts.
  mode = dynamic ? "Dynamic" : always ? "AlwaysOnStartup" : "OnErrorOnly";
  return out;
}

Table agent(const Json& a) {
  Table out;
  out.set("name", str(need(a, "name", "agent"), "agent.name"));
  out.set("type", str(need(a, "type", "agent"), "agent.type"));
  std::string policy = "on-create";
  if (auto p = opt_str(a, "imagePullPolicy", "agent")) {
    if (*p != "on-create" && *p != "never")
      fail_import("agent.imagePullPolicy: unknown variant `" + *p +
                  "`, expected `on-create` or `never`");
    policy = *p;
  }
  out.set("imagePullPolicy", policy);
  const Json& c = need(a, "config", "agent");
  Table config;
  std::string image = str(need(c, "image", "agent.config"), "agent.config.image");
  if (image.find_first_not_of(" \t") == std::string::npos) fail_import("image cannot be empty");
  config.set("image", image);
  if (auto h = opt_str(c, "imageHash", "agent.config")) config.set("imageHash", *h);
  if (c.contains("createOptions") && !c["createOptions"].is_null()) {
    if (!c["createOptions"].is_object())
      fail_import("agent.config.createOptions: invalid type, expected a map");
    config.set("createOptions", ordered(c["createOptions"], "ContainerCreateBody"));
  } else {
    config.set("createOptions", Table{});
  }
  if (auto d = opt_str(c, "digest", "agent.config")) config.set("digest", *d);
  if (c.contains("auth") && c["auth"].is_object())
    config.set("auth",
               ordered_object(c["auth"], {"username", "password", "email", "serveraddress"}, {}));
  out.set("config", config);
  Table env;
  std::map<std::string, std::string> sorted;
  if (a.contains("env") && a["env"].is_object())
    for (const auto& [k, v] : a["env"].items()) sorted[k] = str(v, "agent.env." + k);
  for (const auto& [k, v] : sorted) env.set(k, v);
  out.set("env", env);
  return out;
}

std::string map_listen_uri(const std::string& uri, const std::string& key) {
  if (url_scheme(uri) != "fd") return uri;
  std::string host = uri.substr(5);  // after "fd://"
  if (auto slash = host.find('/'); slash != std::string::npos) host = host.substr(0, slash);
  if (host == "iotedge.mgmt.socket") return "fd://aziot-edged.mgmt.socket";
  if (host == "iotedge.socket") return "fd://aziot-edged.workload.socket";
  fail_import("unexpected value of listen." + key + " " + uri);
}

Value network(const Json& n) {
  if (n.is_string()) return Value(n.get<std::string>());
  if (!n.is_object()) fail_import("moby_runtime.network: expected a name or a table");
  Table t;
  t.set("name", str(need(n, "name", "moby_runtime.network"), "moby_runtime.network.name"));
  if (n.contains("ipv6") && !n["ipv6"].is_null()) t.set("ipv6", boolean(n, "ipv6"));
  if (n.contains("ipam") && n["ipam"].is_object()) {
    Table ipam;
    const Json& i = n["ipam"];
    if (i.contains("config") && i["config"].is_array()) {
      Array configs;
      for (const auto& c : i["config"]) {
        Table entry;
        for (const char* k : {"gateway", "subnet", "ip_range"})
          if (auto v = opt_str(c, k, "moby_runtime.network.ipam.config")) entry.set(k, *v);
        configs.emplace_back(entry);
      }
      ipam.set("config", configs);
    }
    t.set("ipam", ipam);
  }
  return t;
}

}  // namespace

Result<std::string> import_old_config(const std::string& yaml_text, const std::string& source_name,
                                      const std::string& old_master_key_path) {
  Json doc;
  size_t budget = kMaxYamlNodes;
  try {
    doc = to_json(YAML::Load(kOldDefaults), budget);
    YAML::Node user = YAML::Load(yaml_text);
    if (user.IsDefined() && !user.IsNull()) {
      if (!user.IsMap())
        return invalid("could not parse " + source_name +
                       ": expected a YAML mapping at the top level");
      merge(doc, to_json(user, budget));
    }
  } catch (const ImportError& e) {
    return invalid("could not parse " + source_name + ": " + e.message);
  } catch (const YAML::Exception& e) {
    return invalid("could not parse " + source_name + ": line " + std::to_string(e.mark.line + 1) +
                   ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  try {
    Table out;
    std::string mode;
    Table prov = provisioning(need(doc, "provisioning", ""), mode);
    std::optional<Value> edge_ca;
    std::optional<std::string> trust_bundle;
    if (doc.contains("certificates") && doc["certificates"].is_object()) {
      const Json& c = doc["certificates"];
      bool device_cert = c.contains("device_ca_cert") && c.contains("device_ca_pk") &&
                         c.contains("trusted_ca_certs");
      Table ca;
      if (device_cert) {
        ca.set("cert", file_uri_or_path(c["device_ca_cert"], "certificates.device_ca_cert"));
        ca.set("pk", file_uri_or_path(c["device_ca_pk"], "certificates.device_ca_pk"));
        trust_bundle = file_uri_or_path(c["trusted_ca_certs"], "certificates.trusted_ca_certs");
      } else {
        int64_t days = 90;
        if (c.contains("auto_generated_ca_lifetime_days")) {
          const Json& d = c["auto_generated_ca_lifetime_days"];
          if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > 65535)
            fail_import(
                "certificates.auto_generated_ca_lifetime_days: expected an integer 0..65535");
          days = d.get<int64_t>();
        }
        ca.set("auto_generated_edge_ca_expiry_days", days);
      }
      edge_ca = Value(ca);
    }
    if (trust_bundle) out.set("trust_bundle_cert", *trust_bundle);
    out.set("auto_reprovisioning_mode", mode);
    if (!old_master_key_path.empty())
      out.set("imported_master_encryption_key", old_master_key_path);
    out.set("hostname", str(need(doc, "hostname", ""), "hostname"));
    if (auto parent = opt_str(doc, "parent_hostname", "")) out.set("parent_hostname", *parent);
    out.set("prefer_module_identity_cache", false);
    out.set("provisioning", prov);
    for (const char* empty :
         {"aziot_keys", "preloaded_keys", "cert_issuance", "preloaded_certs", "tpm"})
      out.set(empty, Table{});
    out.set("agent", agent(need(doc, "agent", "")));
    const Json& connect = need(doc, "connect", "");
    const Json& listen = need(doc, "listen", "");
    Table c, l;
    c.set("workload_uri", url(need(connect, "workload_uri", "connect"), "connect.workload_uri"));
    c.set("management_uri",
          url(need(connect, "management_uri", "connect"), "connect.management_uri"));
    l.set("workload_uri",
          map_listen_uri(url(need(listen, "workload_uri", "listen"), "listen.workload_uri"),
                         "workload_uri"));
    l.set("management_uri",
          map_listen_uri(url(need(listen, "management_uri", "listen"), "listen.management_uri"),
                         "management_uri"));
    out.set("connect", c);
    out.set("listen", l);
    Table watchdog;
    Value retries("infinite");
    if (doc.contains("watchdog") && doc["watchdog"].is_object() &&
        doc["watchdog"].contains("max_retries")) {
      const Json& m = doc["watchdog"]["max_retries"];
      if (m.is_number_integer() && m.get<int64_t>() >= 0 && m.get<int64_t>() <= UINT32_MAX) {
        retries = Value(m.get<int64_t>());
      } else if (!(m.is_null() || (m.is_string() && (m == "infinite" || m == "Infinite")))) {
        fail_import("watchdog.max_retries: expected \"infinite\" or a non-negative integer");
      }
    }
    watchdog.set("max_retries", retries);
    out.set("watchdog", watchdog);
    if (edge_ca) out.set("edge_ca", *edge_ca);
    const Json& moby = need(doc, "moby_runtime", "");
    Table m;
    m.set("uri", url(need(moby, "uri", "moby_runtime"), "moby_runtime.uri"));
    m.set("network", network(need(moby, "network", "moby_runtime")));
    if (moby.contains("content_trust") && moby["content_trust"].is_object()) {
      Table ct;
      const Json& ca_certs =
          moby["content_trust"].contains("ca_certs") ? moby["content_trust"]["ca_certs"] : Json();
      if (ca_certs.is_object()) {
        std::map<std::string, std::string> sorted;
        for (const auto& [host, path] : ca_certs.items()) {
          std::string p = str(path, "moby_runtime.content_trust.ca_certs." + host);
          if (p.empty() || p[0] != '/') fail_import("could not convert path " + p + " to file URI");
          sorted[host] = file_url_from_path(p);
        }
        Table certs;
        for (const auto& [host, u] : sorted) certs.set(host, u);
        ct.set("ca_certs", certs);
      }
      m.set("content_trust", ct);
    }
    out.set("moby_runtime", m);
    return to_toml(out);
  } catch (const ImportError& e) {
    return invalid("could not parse " + source_name + ": " + e.message);
  }
}

int run_config_import(const std::string& old_config_file, const std::string& new_config_file,
                      bool force, std::ostream& out, std::ostream& err) {
  if (!force && exists(new_config_file))
    return failed(err, already_configured(new_config_file, "import", Flavor::Iotedge));
  auto text = fs::read_file(old_config_file, config::kMaxConfigFileSize);
  if (!text) {
    if (text.error().kind == ErrorKind::NotFound)
      return failed(err, "there is no old config at " + old_config_file + " available to migrate");
    return failed(err, "could not open " + old_config_file + ": " + text.error().message);
  }
  std::string master_key;
  if (const char* v = std::getenv("EDGE_CLI_OLD_MASTER_KEY"); v && *v) {
    master_key = v;
  } else {
    struct stat st {};
    if (::stat((root_prefix() + kOldMasterKeyPath).c_str(), &st) == 0 && S_ISREG(st.st_mode))
      master_key = kOldMasterKeyPath;
  }
  auto config = import_old_config(*text, old_config_file, master_key);
  if (!config) return failed(err, config.error().message);
  if (auto st = fs::write_atomic(new_config_file, *config, 0600); !st)
    return failed(err, st.error().message);
  out << "Azure IoT Edge has been configured successfully!\n"
      << "The configuration has been written to " << new_config_file << "\n"
      << "To apply the new configuration to services, run:\n\n"
      << "    sudo iotedge config apply -c '" << new_config_file << "'\n";
  return 0;
}

}  // namespace edge::cli
