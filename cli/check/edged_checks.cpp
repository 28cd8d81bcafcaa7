// edged's built-in checks (upstream's `iotedge check` list, same ids, texts and order): the
// daemon's config, the container engine and its daemon.json, the diagnostics container runs,
// the edge agent's image and the upstream connectivity from containers.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <regex>
#include <variant>

#include "cli/check/checks.h"
#include "cli/system.h"

namespace edge::cli::check {
namespace {

std::string agent_env(const Context& ctx, const std::string& name) {
  if (!ctx.edged) return "";
  return toml_string(*ctx.edged, "agent.env." + name).value_or("");
}

Outcome well_formed(Context& ctx, Json&) {
  const std::string path = ctx.path("/etc/aziot/edged/config.toml");
  if (::access(path.c_str(), R_OK) != 0 && errno == EACCES)
    return Outcome::fatal({"Could not open IoT Edge configuration. You might need to run this "
                           "command as root.",
                           "Permission denied (os error 13)"});
  std::optional<toml::table> table;
  Outcome o = load_daemon_config(ctx, "aziot-edged", "/etc/aziot/edged/config.toml",
                                 "/etc/aziot/edged/config.d", {"hostname", "homedir", "agent"}, table);
  if (o.kind == Kind::Fatal)
    return Outcome::fatal({"Could not open IoT Edge configuration. You might need to run this "
                           "command as root.",
                           o.details.back()});
  if (o.kind != Kind::Ok) {
    if (ctx.options.verbose)
      return Outcome::failed({"The IoT Edge configuration is not well-formed.\nNote: In case of "
                              "syntax errors, the error may not be exactly at the reported line "
                              "number and position.\n" +
                              o.details.back()});
    return Outcome::failed({"The IoT Edge daemon's configuration file is not well-formed."});
  }
  ctx.edged = std::move(table);
  // Nested: an image name of the default form is pulled from the parent (upstream does this
  // substitution for "$upstream" names here).
  if (ctx.parent_hostname && ctx.options.diagnostics_image_name.starts_with("$upstream"))
    ctx.options.diagnostics_image_name =
        *ctx.parent_hostname + ctx.options.diagnostics_image_name.substr(std::strlen("$upstream"));
  if (!ctx.proxy_uri) {
    if (auto p = toml_string(*ctx.edged, "agent.env.https_proxy")) ctx.proxy_uri = *p;
  }
  return Outcome::ok();
}

std::string moby_uri(const Context& ctx) {
  return toml_string(*ctx.edged, "moby_runtime.uri").value_or("unix:///var/run/docker.sock");
}

Outcome container_engine(Context& ctx, Json& info) {
  if (!ctx.edged) return Outcome::skipped();
  const std::string uri = moby_uri(ctx);
  if (!uri.starts_with("unix://")) {
    auto scheme = uri.substr(0, uri.find(':'));
    return Outcome::failed({"Could not communicate with container engine at " + uri +
                            ". The scheme " + scheme + " is invalid."});
  }
  std::string err;
  auto out = docker(uri, {"version", "--format", "{{.Server.Version}}"}, &err);
  if (!out) {
    std::string message = "Could not communicate with container engine at " + uri +
                          ".\nPlease check your moby-engine installation and ensure the service is running.";
    if (err.find("Got permission denied") != std::string::npos)
      return Outcome::fatal({message + "\nYou might need to run this command as root.", out.error().message});
    return Outcome::failed({message, out.error().message});
  }
  std::string version = *out;
  while (!version.empty() && (version.back() == '\n' || version.back() == ' ')) version.pop_back();
  ctx.docker_host = uri;
  ctx.docker_version = version;
  info["docker_host_arg"] = uri;
  info["docker_server_version"] = version;
  return Outcome::ok();
}

Outcome parent_hostname(Context& ctx, Json& info) {
  if (!ctx.parent_hostname) return Outcome::ignored();
  const std::string& p = *ctx.parent_hostname;
  info["config_parent_hostname"] = p;
  if (is_ip_address(p)) return Outcome::ok();
  if (!is_rfc1035_valid(p))
    return Outcome::warning({hostname_rfc1035_message("configuration has parent_hostname", p)});
  if (p.size() > 64)
    return Outcome::failed({"configuration parent_hostname " + p +
                            " is too long to be used as a certificate issuer"});
  return Outcome::ok();
}

// Upstream's default image name "/azureiotedge-diagnostics:<v>" is pulled from MCR, or from
// the parent in a nested hierarchy.
std::string diagnostics_image(const Context& ctx) {
  const std::string& name = ctx.options.diagnostics_image_name;
  if (name.starts_with("/azureiotedge-diagnostics:"))
    return (ctx.parent_hostname ? *ctx.parent_hostname : std::string("mcr.microsoft.com")) + name;
  return name;
}

// `docker run --rm`; our own default image is built locally, never pulled.
std::vector<std::string> run_prefix(const Context& ctx) {
  std::vector<std::string> args{"run", "--rm"};
  if (ctx.options.diagnostics_image_name.starts_with("iotedge-lite/")) {
    args.push_back("--pull");
    args.push_back("never");
  }
  return args;
}

std::vector<std::string> diagnostics_command(const std::string& image, std::vector<std::string> args) {
  std::vector<std::string> r{image, "dotnet", "IotedgeDiagnosticsDotnet.dll"};
  r.insert(r.end(), args.begin(), args.end());
  return r;
}

Outcome resolve_parent_hostname(Context& ctx, Json&) {
  if (!ctx.edged) return Outcome::skipped();
  if (!ctx.parent_hostname) return Outcome::ignored();
  if (is_ip_address(*ctx.parent_hostname)) return Outcome::ignored();
  if (!ctx.docker_host) return Outcome::skipped();
  std::vector<std::string> args = run_prefix(ctx);
  for (const auto& host : agent_extra_hosts(*ctx.edged)) args.push_back("--add-host=" + host);
  for (auto& a : diagnostics_command(diagnostics_image(ctx),
                                     {"parent-hostname", "--parent-hostname", *ctx.parent_hostname}))
    args.push_back(a);
  auto r = docker(*ctx.docker_host, args);
  if (!r)
    return Outcome::failed({"Failed to resolve parent hostname " + *ctx.parent_hostname, r.error().message});
  return Outcome::ok();
}

Outcome connect_management_uri(Context& ctx, Json& info) {
  if (!ctx.edged) return Outcome::skipped();
  if (!ctx.docker_host) return Outcome::skipped();
  const std::string connect =
      toml_string(*ctx.edged, "connect.management_uri").value_or("unix:///var/run/iotedge/mgmt.sock");
  const std::string listen =
      toml_string(*ctx.edged, "listen.management_uri").value_or("fd://aziot-edged.mgmt.socket");
  info["connect_management_uri"] = connect;
  info["listen_management_uri"] = listen;
  std::vector<std::string> args = run_prefix(ctx);
  if (const auto* env = toml_table(*ctx.edged, "agent.env"))
    for (const auto& [k, v] : *env)
      if (auto s = v.value<std::string>()) {
        args.push_back("-e");
        args.push_back(std::string(k.str()) + "=" + *s);
      }
  auto scheme = [](const std::string& u) { return u.substr(0, u.find(':')); };
  const std::string cs = scheme(connect), ls = scheme(listen);
  if (cs == "unix" && (ls == "unix" || ls == "fd")) {
    // The socket seen by the host: under the sandbox root when one is set.
    const std::string socket = strip_scheme(connect);
    args.push_back("-v");
    args.push_back(ctx.path(socket) + ":" + socket);
  } else if (!(cs == "http" && ls == "http")) {
    if (cs != ls)
      return Outcome::failed({"configuration has invalid combination of schemes for "
                              "connect.management_uri (\"" + cs + "\") and listen.management_uri (\"" + ls + "\")"});
    return Outcome::failed({"Could not parse connect.management_uri: scheme " + cs + " is invalid"});
  }
  for (auto& a : diagnostics_command(diagnostics_image(ctx), {"edge-agent", "--management-uri", connect}))
    args.push_back(a);
  std::string err;
  auto r = docker(*ctx.docker_host, args, &err);
  if (!r) return Outcome::failed({err, r.error().message});
  return Outcome::ok();
}

Outcome aziot_edge_version(Context& ctx, Json& info) {
  std::string out, err;
  int code = run_captured({ctx.options.aziot_edged, "--version"}, &out, &err);
  if (code != 0)
    return Outcome::failed({"Could not spawn aziot-edged process",
                            code < 0 ? "No such file or directory (os error 2)"
                                     : "aziot-edged returned exit status: " + std::to_string(code) +
                                           ", stderr = " + err});
  std::smatch m;
  std::string trimmed = out.substr(0, out.find_last_not_of(" \n") + 1);
  static const std::regex re(R"(^aziot-edged ([^ ]+)(?: \(.*\))?$)");
  if (!std::regex_match(trimmed, m, re))
    return Outcome::failed({"Could not parse output of aziot-edged --version",
                            "output \"" + out + "\" does not match expected format"});
  const std::string actual = m[1];
  std::string expected;
  if (ctx.options.expected_aziot_edged_version) {
    expected = *ctx.options.expected_aziot_edged_version;
  } else {
    if (ctx.parent_hostname) return Outcome::ignored();
    auto latest = latest_version("aziot-edge", actual, ctx.proxy_uri);
    if (!latest) return failed_from(latest.error());
    expected = *latest;
  }
  info["actual_version"] = actual;
  info["expected_version"] = expected;
  ctx.aziot_edged_version = actual;
  if (actual != expected)
    return Outcome::warning({"Installed IoT Edge daemon has version " + actual + " but " + expected +
                             " is the latest stable version available.\nPlease see "
                             "https://aka.ms/iotedge-update-runtime for update instructions."});
  return Outcome::ok();
}

Outcome container_local_time(Context& ctx, Json& info) {
  if (!ctx.docker_host) return Outcome::skipped();
  std::vector<std::string> args = run_prefix(ctx);
  for (auto& a : diagnostics_command(diagnostics_image(ctx), {"local-time"})) args.push_back(a);
  auto r = docker(*ctx.docker_host, args);
  if (!r) return Outcome::failed({"Could not query local time inside container", r.error().message});
  long long container_time = 0;
  try {
    size_t used = 0;
    std::string text = r->substr(0, r->find_last_not_of(" \r\n") + 1);
    container_time = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    return Outcome::failed({"Could not parse container output", "invalid digit found in string"});
  }
  const long long host_time = static_cast<long long>(std::time(nullptr));
  info["actual_duration"] = Json{{"secs", container_time}, {"nanos", 0}};
  info["expected_duration"] = Json{{"secs", host_time}, {"nanos", 0}};
  info["diff"] = std::llabs(host_time - container_time);
  if (std::llabs(host_time - container_time) >= 10)
    return Outcome::failed({"Detected time drift between host and container"});
  return Outcome::ok();
}

// daemon.json as JSON; a warning/error outcome when it cannot be opened or parsed.
std::variant<Json, Outcome> daemon_config(const Context& ctx, const std::string& message,
                                          bool missing_is_warning) {
  const std::string& path = ctx.options.container_engine_config_file;
  auto text = read_small_file(path);
  if (!text) {
    Chain chain{message, "Could not open container engine config file " + path,
                std::string(std::strerror(errno)) + " (os error " + std::to_string(errno) + ")"};
    return missing_is_warning ? Outcome::warning(chain) : Outcome::ignored();
  }
  Json j = Json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Outcome::failed({message, "Could not parse container engine config file " + path});
  return j;
}

Outcome container_engine_dns(Context& ctx, Json& info) {
  static const std::string kMessage =
      "Container engine is not configured with DNS server setting, which may impact connectivity "
      "to IoT Hub.\nPlease see https://aka.ms/iotedge-prod-checklist-dns for best practices.\n"
      "You can ignore this warning if you are setting DNS server per module in the Edge deployment.";
  info["container_engine_config_path"] = ctx.options.container_engine_config_file;
  auto cfg = daemon_config(ctx, kMessage, true);
  if (auto* o = std::get_if<Outcome>(&cfg)) return *o;
  const Json& j = std::get<Json>(cfg);
  if (j.contains("dns")) info["dns"] = j["dns"];
  if (!j.contains("dns") || !j["dns"].is_array() || j["dns"].empty()) return Outcome::warning({kMessage});
  return Outcome::ok();
}

Outcome container_engine_ipv6(Context& ctx, Json& info) {
  static const std::string kMessage =
      "Container engine is not configured for IPv6 communication.\nPlease see "
      "https://aka.ms/iotedge-docker-ipv6 for a guide on how to enable IPv6 support.";
  const bool expected = ctx.edged && ctx.edged->at_path("moby_runtime.network.ipv6").value<bool>().value_or(false);
  info["expected_use_ipv6"] = expected;
  auto cfg = daemon_config(ctx, kMessage, false);
  if (auto* o = std::get_if<Outcome>(&cfg)) {
    if (o->kind == Kind::Ignored && expected)
      return Outcome::failed({kMessage, "Could not open container engine config file " +
                                            ctx.options.container_engine_config_file});
    return *o;
  }
  const Json& j = std::get<Json>(cfg);
  bool actual = j.contains("ipv6") && j["ipv6"].is_boolean() && j["ipv6"].get<bool>();
  if (j.contains("ipv6")) info["actual_use_ipv6"] = j["ipv6"];
  if (actual) return Outcome::ok();
  return expected ? Outcome::failed({kMessage}) : Outcome::ignored();
}

Outcome container_engine_logrotate(Context& ctx, Json& info) {
  static const std::string kMessage =
      "Container engine is not configured to rotate module logs which may cause it run out of "
      "disk space.\nPlease see https://aka.ms/iotedge-prod-checklist-logs for best practices.\n"
      "You can ignore this warning if you are setting log policy per module in the Edge deployment.";
  auto cfg = daemon_config(ctx, kMessage, true);
  if (auto* o = std::get_if<Outcome>(&cfg)) return *o;
  const Json& j = std::get<Json>(cfg);
  Json dc{{"log-driver", j.value("log-driver", Json())}, {"log-opts", j.value("log-opts", Json())}};
  info["daemon_config"] = dc;
  if (!j.contains("log-driver") || !j["log-driver"].is_string()) return Outcome::warning({kMessage});
  if (j["log-driver"] == "journald") return Outcome::ok();
  if (!j.contains("log-opts") || !j["log-opts"].is_object()) return Outcome::warning({kMessage});
  if (!j["log-opts"].contains("max-file") || !j["log-opts"].contains("max-size"))
    return Outcome::warning({kMessage});
  return Outcome::ok();
}

// `storage` names the directory under the storage folder; the agent's container is the one
// edged's config names (agent.name), the hub's is edgeHub.
Check storage_mounted(const std::string& id, const std::string& description, const std::string& storage) {
  return {id, description, [storage](Context& ctx, Json& info) {
            if (!ctx.docker_host) return Outcome::skipped();
            const std::string module = storage == "edgeAgent" && ctx.edged
                                           ? toml_string(*ctx.edged, "agent.name").value_or("edgeAgent")
                                           : storage;
            auto out = docker(*ctx.docker_host, {"inspect", module});
            Json inspect = out ? Json::parse(*out, nullptr, false) : Json();
            if (!out || inspect.is_discarded() || !inspect.is_array() || inspect.empty())
              return Outcome::failed({"Could not check current state of " + module + " container",
                                      out ? "Could not parse result of docker inspect" : out.error().message});
            const Json& c = inspect[0];
            std::string temp = "/tmp";
            static const std::regex storage_re("^storagefolder=(.*)", std::regex::icase);
            if (c.contains("Config") && c["Config"].contains("Env") && c["Config"]["Env"].is_array())
              for (const auto& e : c["Config"]["Env"]) {
                std::smatch m;
                std::string s = e.get<std::string>();
                if (std::regex_match(s, m, storage_re)) {
                  temp = m[1];
                  break;
                }
              }
            const std::string storage_dir = temp + (temp.ends_with("/") ? "" : "/") + storage;
            info["storage_directory"] = storage_dir;
            std::vector<std::string> dirs;
            if (c.contains("Mounts") && c["Mounts"].is_array())
              for (const auto& m : c["Mounts"])
                if (m.contains("Destination")) dirs.push_back(m["Destination"]);
            if (c.contains("Config") && c["Config"].contains("Volumes") && c["Config"]["Volumes"].is_object())
              for (const auto& [k, v] : c["Config"]["Volumes"].items()) dirs.push_back(k);
            info["container_directories"] = dirs;
            for (const auto& d : dirs) {
              std::string dir = d.ends_with("/") && d.size() > 1 ? d.substr(0, d.size() - 1) : d;
              if (storage_dir == dir || storage_dir.starts_with(dir == "/" ? dir : dir + "/")) return Outcome::ok();
            }
            return Outcome::warning({"The " + module + " module is not configured to persist its " + storage_dir +
                                     " directory on the host filesystem.\nData might be lost if the module "
                                     "is deleted or updated.\nPlease see https://aka.ms/iotedge-storage-host "
                                     "for best practices."});
          }};
}

Outcome check_agent_image(Context& ctx, Json&) {
  if (!ctx.edged) return Outcome::skipped();
  std::string upstream;
  if (ctx.parent_hostname) upstream = *ctx.parent_hostname;
  else if (ctx.iothub_hostname) upstream = *ctx.iothub_hostname;
  else return Outcome::skipped();
  if (!ctx.docker_host) return Outcome::skipped();
  std::string image = toml_string(*ctx.edged, "agent.config.image").value_or("");
  if (image.starts_with("$upstream")) image = upstream + image.substr(std::strlen("$upstream"));
  if (ctx.parent_hostname) {
    static const std::regex re(R"(.*?/azureiotedge-agent:(\d+)\.(\d+).*)");
    std::smatch m;
    if (std::regex_match(image, m, re)) {
      int major = std::stoi(m[1]), minor = std::stoi(m[2]);
      if (major < 1 || (major == 1 && minor < 2))
        return Outcome::failed({"In nested Edge, edgeAgent version need to be 1.2 or above"});
    }
  }
  auto user = toml_string(*ctx.edged, "agent.config.auth.username");
  auto password = toml_string(*ctx.edged, "agent.config.auth.password");
  auto server = toml_string(*ctx.edged, "agent.config.auth.serveraddress");
  if (user && password && server) {
    std::string srv = server->starts_with("$upstream") ? upstream + server->substr(9) : *server;
    auto r = docker(*ctx.docker_host, {"login", srv, "-p", *password, "--username", *user});
    if (!r) return Outcome::failed({"Failed to login to " + srv, r.error().message});
  }
  auto r = docker(*ctx.docker_host, {"pull", image});
  if (!r) return Outcome::failed({"Failed to get edge Agent image", r.error().message});
  return Outcome::ok();
}

Outcome proxy_settings(Context& ctx, Json& info) {
  if (!ctx.edged) return Outcome::skipped();
  const std::string agent = agent_env(ctx, "https_proxy");
  const std::string moby = service_proxy(ctx, "docker").value_or("");
  const std::string edged = service_proxy(ctx, "aziot-edged").value_or("");
  const std::string identityd = service_proxy(ctx, "aziot-identityd").value_or("");
  info["edge_agent"] = agent;
  info["moby"] = moby;
  info["aziot_edged"] = edged;
  info["aziot_identityd"] = identityd;
  if (agent == moby && agent == edged && agent == identityd) return Outcome::ok();
  auto q = [](const std::string& s) { return Json(s).dump(); };
  return Outcome::warning({"The proxy setting for IoT Edge Agent " + q(agent) + ", IoT Edge Daemon " +
                           q(edged) + ", IoT Identity Daemon " + q(identityd) + ", and Moby " + q(moby) +
                           " may need to be identical."});
}

enum class Port { Amqp = 5671, Https = 443, Mqtt = 8883 };

Check container_connect_upstream(const std::string& id, const std::string& description, Port port,
                                 bool module_network) {
  return {id, description, [port, module_network](Context& ctx, Json& info) {
            const int port_number = static_cast<int>(port);
            info["upstream_port"] = port == Port::Amqp ? "Amqp" : port == Port::Https ? "Https" : "Mqtt";
            if (!ctx.edged || !ctx.docker_host) return Outcome::skipped();
            std::string upstream;
            if (ctx.parent_hostname) upstream = *ctx.parent_hostname;
            else if (ctx.iothub_hostname) upstream = *ctx.iothub_hostname;
            else return Outcome::skipped();
            info["upstream_hostname"] = upstream;
            // UpstreamProtocol of the running agent decides which ports matter.
            std::string protocol = running_agent_env(ctx, "UpstreamProtocol").value_or("");
            const bool skip = (port == Port::Amqp && protocol == "Mqtt") ||
                              (port == Port::Https && (protocol == "Amqp" || protocol == "Mqtt")) ||
                              (port == Port::Mqtt && protocol == "Amqp");
            const std::string network =
                toml_string(*ctx.edged, "moby_runtime.network.name")
                    .value_or(toml_string(*ctx.edged, "moby_runtime.network").value_or("azure-iot-edge"));
            info["network_name"] = network;
            info["diagnostics_image_name"] = ctx.options.diagnostics_image_name;
            std::vector<std::string> args = run_prefix(ctx);
            if (module_network) {
              args.push_back("--network");
              args.push_back(network);
            }
            const std::string workload =
                toml_string(*ctx.edged, "connect.workload_uri").value_or("unix:///var/run/iotedge/workload.sock");
            if (ctx.parent_hostname) {
              args.push_back("-v");
              args.push_back(ctx.path(strip_scheme(workload)) + ":" + strip_scheme(workload));
            }
            std::vector<std::string> sub{"upstream", "--hostname", upstream, "--port", std::to_string(port_number)};
            if (ctx.parent_hostname) {
              for (const char* a : {"--isNested", "true", "--workload_uri"}) sub.push_back(a);
              sub.push_back(workload);
            }
            if (port == Port::Https && ctx.proxy_uri) {
              info["proxy"] = *ctx.proxy_uri;
              sub.push_back("--proxy");
              sub.push_back(*ctx.proxy_uri);
            }
            if (skip) return Outcome::skipped_due_to("not required in this configuration");
            for (auto& a : diagnostics_command(diagnostics_image(ctx), sub)) args.push_back(a);
            auto r = docker(*ctx.docker_host, args);
            if (!r)
              return Outcome::failed({"Container on the " + (module_network ? network : std::string("default")) +
                                          " network could not connect to " + upstream + ":" +
                                          std::to_string(port_number),
                                      r.error().message});
            return Outcome::ok();
          }};
}

}  // namespace

std::vector<std::string> agent_extra_hosts(const toml::table& edged) {
  std::vector<std::string> hosts;
  const toml::node* n = edged.at_path("agent.config.createOptions.HostConfig.ExtraHosts").node();
  if (n && n->is_array())
    for (const auto& h : *n->as_array())
      if (auto s = h.value<std::string>()) hosts.push_back(*s);
  return hosts;
}

std::optional<std::string> running_agent_env(const Context& ctx, const std::string& name) {
  if (!ctx.docker_host || !ctx.edged) return std::nullopt;
  const std::string agent = toml_string(*ctx.edged, "agent.name").value_or("edgeAgent");
  auto out = docker(*ctx.docker_host, {"inspect", "--format", "{{json .Config.Env}}", agent});
  if (!out) return std::nullopt;
  Json env = Json::parse(*out, nullptr, false);
  if (!env.is_array()) return std::nullopt;
  for (const auto& e : env)
    if (e.is_string() && e.get<std::string>().starts_with(name + "="))
      return e.get<std::string>().substr(name.size() + 1);
  return std::nullopt;
}

std::vector<Section> edged_sections() {
  std::vector<Section> s(2);
  s[0].name = "Configuration checks";
  s[0].checks = {
      {"aziot-edged-config-well-formed", "aziot-edged configuration is well-formed", well_formed},
      {"config-up-to-date", "configuration up-to-date with config.toml",
       [](Context& ctx, Json&) { return check_last_modified(ctx, {"edged"}, "iotedge"); }},
      {"container-engine-uri", "container engine is installed and functional", container_engine},
      {"parent_hostname", "configuration has correct parent_hostname", parent_hostname},
      {"container-resolve-parent-hostname", "parent hostname is resolvable from inside container",
       resolve_parent_hostname},
      {"connect-management-uri", "configuration has correct URIs for daemon mgmt endpoint",
       connect_management_uri},
      {"aziot-edge-version", "aziot-edge package is up-to-date", aziot_edge_version},
      {"container-local-time", "container time is close to host time", container_local_time},
      {"container-engine-dns", "DNS server", container_engine_dns},
      {"container-engine-ipv6", "IPv6 network configuration", container_engine_ipv6},
      {"container-engine-logrotate", "production readiness: logs policy", container_engine_logrotate},
      storage_mounted("edge-agent-storage-mounted-from-host",
                      "production readiness: Edge Agent's storage directory is persisted on the host filesystem",
                      "edgeAgent"),
      storage_mounted("edge-hub-storage-mounted-from-host",
                      "production readiness: Edge Hub's storage directory is persisted on the host filesystem",
                      "edgeHub"),
      {"check-agent-image", "Agent image is valid and can be pulled from upstream", check_agent_image},
      {"proxy-settings",
       "proxy settings are consistent in aziot-edged, aziot-identityd, moby daemon and config.toml",
       proxy_settings},
  };
  for (auto& c : extra_checks()) s[0].checks.push_back(std::move(c));
  s[1].name = "Connectivity checks";
  s[1].checks = {
      container_connect_upstream("container-default-connect-upstream-amqp",
                                 "container on the default network can connect to upstream AMQP port",
                                 Port::Amqp, false),
      container_connect_upstream("container-default-connect-upstream-https",
                                 "container on the default network can connect to upstream HTTPS / WebSockets port",
                                 Port::Https, false),
      container_connect_upstream("container-default-connect-upstream-mqtt",
                                 "container on the default network can connect to upstream MQTT port",
                                 Port::Mqtt, false),
      container_connect_upstream("container-connect-upstream-amqp",
                                 "container on the IoT Edge module network can connect to upstream AMQP port",
                                 Port::Amqp, true),
      container_connect_upstream("container-connect-upstream-https",
                                 "container on the IoT Edge module network can connect to upstream HTTPS / WebSockets port",
                                 Port::Https, true),
      container_connect_upstream("container-connect-upstream-mqtt",
                                 "container on the IoT Edge module network can connect to upstream MQTT port",
                                 Port::Mqtt, true),
  };
  return s;
}

}  // namespace edge::cli::check
