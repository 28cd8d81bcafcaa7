// `iotedge check` / `aziotctl check` (+ check-list): flags as upstream, the identity service's
// checks first (in-process; upstream shells out to aziotctl), then edged's.
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/check/checks.h"
#include "cli/system.h"
#include "common/cloud/https_client.h"

#ifndef EDGE_VERSION
#define EDGE_VERSION "1.5.0"
#endif

namespace edge::cli::check {
namespace {

std::string now_rfc3339() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09ldZ", ts.tv_nsec);
  return std::string(buf) + frac;
}

std::string pretty_bytes(unsigned long long bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", v, units[u]);
  return buf;
}

Json os_info() {
  Json os{{"id", nullptr}, {"version_id", nullptr}, {"arch", "x86_64"}, {"bitness", sizeof(void*) * 8}};
  utsname u{};
  if (::uname(&u) == 0) os["arch"] = u.machine;
  std::ifstream in("/etc/os-release");
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\''))
      value = value.substr(1, value.size() - 2);
    if (key == "ID") os["id"] = value;
    if (key == "VERSION_ID") os["version_id"] = value;
  }
  return os;
}

Json system_info() {
  Json si = Json::object();
  struct sysinfo s {};
  if (::sysinfo(&s) == 0) {
    const unsigned long long unit = s.mem_unit;
    si["total_ram"] = pretty_bytes(s.totalram * unit);
    si["used_ram"] = pretty_bytes((s.totalram - s.freeram - s.bufferram) * unit);
    si["total_swap"] = pretty_bytes(s.totalswap * unit);
    si["used_swap"] = pretty_bytes((s.totalswap - s.freeswap) * unit);
  }
  Json disks = Json::array();
  std::ifstream mounts("/proc/mounts");
  for (std::string dev, dir, type, rest; mounts >> dev >> dir >> type && std::getline(mounts, rest);) {
    if (!dev.starts_with("/dev/")) continue;
    struct statvfs v {};
    if (::statvfs(dir.c_str(), &v) != 0 || v.f_blocks == 0) continue;
    const unsigned long long total = v.f_blocks * v.f_frsize, avail = v.f_bavail * v.f_frsize;
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f%%", 100.0 * static_cast<double>(avail) / static_cast<double>(total));
    disks.push_back({{"name", dev}, {"percent_free", pct}, {"available_space", pretty_bytes(avail)},
                     {"total_space", pretty_bytes(total)}, {"file_system", type}, {"file_type", "Unknown"}});
  }
  si["disks"] = disks;
  return si;
}

// What the identity checks learned that edged's need: hub and parent hostnames.
void learn_from_identityd(Context& ctx) {
  if (!ctx.identityd) return;
  if (!ctx.iothub_hostname && toml_string(*ctx.identityd, "provisioning.source") == "manual")
    ctx.iothub_hostname = toml_string(*ctx.identityd, "provisioning.iothub_hostname");
  ctx.parent_hostname = toml_string(*ctx.identityd, "provisioning.local_gateway_hostname");
}

int usage_error(const std::string& program, const std::string& message) {
  std::cerr << "error: " << message << "\n\nFor more information, try '" << program << " --help'.\n";
  return 2;
}

}  // namespace

// Our errors chain as "outer: inner" in one message; kept whole (URLs have colons too).
Outcome failed_from(const Error& e) { return Outcome::failed({e.message}); }

Result<std::string> latest_version(const std::string& component, const std::string& actual,
                                   const std::optional<std::string>& proxy) {
  const std::string kUri = "https://aka.ms/azure-iotedge-latest-versions";
  cloud::Options options;
  options.timeout = std::chrono::seconds(60);
  if (proxy) {
    auto p = cloud::parse_proxy(*proxy);
    if (!p) return fail(p.error().context("could not initialize HTTP connector"));
    options.proxy = std::optional<cloud::Proxy>(*p);
  }
  std::string url = kUri;
  Json body;
  for (int hops = 0;; ++hops) {
    auto r = cloud::request("GET", url, {}, "", options);
    if (!r) return fail(r.error().context("could not query " + kUri + " for latest available version"));
    if (r->status >= 300 && r->status < 400 && hops < 5) {
      const std::string* location = r->header("location");
      if (!location) return internal("received HTTP redirect response without location header");
      url = *location;
      continue;
    }
    if (r->status != 200) return internal("received unexpected response " + std::to_string(r->status));
    body = Json::parse(r->body, nullptr, false);
    if (body.is_discarded()) return internal("could not read HTTP response");
    break;
  }
  auto major_minor = [](const std::string& v) { return v.substr(0, v.find('.', v.find('.') + 1)); };
  if (body.contains("channels") && body["channels"].is_array())
    for (const auto& channel : body["channels"])
      for (const auto& product : channel.value("products", Json::array()))
        if (product.value("id", "") == "aziot-edge")
          for (const auto& c : product.value("components", Json::array()))
            if (c.value("name", "") == component && major_minor(c.value("version", "")) == major_minor(actual))
              return c.value("version", "");
  return internal("could not find " + component + " version " + major_minor(actual) +
                  ".x in list of supported products at " + kUri);
}

int check_command(bool iotedge, std::vector<std::string> argv) {
  const std::string program = iotedge ? "iotedge" : "aziotctl";
  Context ctx;
  ctx.root = root_prefix();
  Options& o = ctx.options;
  o.diagnostics_image_name = "iotedge-lite/azureiotedge-diagnostics:" EDGE_VERSION;
  // --dont-run takes every following value up to the next flag (clap's num_args(..)).
  std::vector<std::string> rest;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--dont-run" || argv[i].starts_with("--dont-run=")) {
      auto add = [&](const std::string& v) {
        size_t start = 0;
        while (start <= v.size()) {
          size_t sp = v.find(' ', start);
          std::string id = v.substr(start, sp == std::string::npos ? std::string::npos : sp - start);
          if (!id.empty()) o.dont_run.insert(id);
          if (sp == std::string::npos) break;
          start = sp + 1;
        }
      };
      if (argv[i] != "--dont-run") add(argv[i].substr(11));
      while (i + 1 < argv.size() && !argv[i + 1].starts_with("-")) add(argv[++i]);
      continue;
    }
    rest.push_back(argv[i]);
  }
  Args args(std::move(rest));
  if (args.flag("-h", "--help")) {
    std::cout << "Usage: " << program
              << " check [--verbose] [-o|--output text|json] [--dont-run IDS...] [--iothub-hostname H]\n"
                 "  [--proxy-uri URI] [--warnings-as-errors] [--ntp-server HOST:PORT]\n"
                 "  [--expected-aziot-version V]"
              << (iotedge ? " [--expected-aziot-edged-version V] [--aziot-edged PATH]\n"
                            "  [--container-engine-config-file FILE] [--diagnostics-image-name IMAGE]\n"
                          : "\n")
              << "\nCheck for common config and deployment issues\n";
    return 0;
  }
  if (auto v = args.option("", "--container-engine-config-file")) o.container_engine_config_file = *v;
  if (auto v = args.option("", "--diagnostics-image-name")) o.diagnostics_image_name = *v;
  o.expected_aziot_edged_version = args.option("", "--expected-aziot-edged-version");
  o.expected_aziot_version = args.option("", "--expected-aziot-version");
  if (auto v = args.option("", "--aziot-edged")) o.aziot_edged = *v;
  o.iothub_hostname = args.option("", "--iothub-hostname");
  o.proxy_uri = args.option("", "--proxy-uri");
  if (auto v = args.option("", "--ntp-server")) o.ntp_server = *v;
  auto output = args.option("-o", "--output").value_or("text");
  o.verbose = args.flag("-v", "--verbose");
  o.warnings_as_errors = args.flag("", "--warnings-as-errors");
  if (!args.error().empty()) return usage_error(program, args.error());
  if (!args.empty()) return usage_error(program, "unexpected argument '" + args.remaining().front() + "' found");
  if (output != "text" && output != "json")
    return usage_error(program, "invalid value '" + output + "' for '--output <FORMAT>'\n  [possible values: json, text]");
  o.json = output == "json";

  ctx.iothub_hostname = o.iothub_hostname;
  ctx.proxy_uri = o.proxy_uri;
  if (!ctx.proxy_uri && iotedge) {
    // Upstream: the agent's https_proxy from edged's settings, else the environment.
    std::optional<toml::table> edged;
    Context probe;
    probe.options = o;
    probe.root = ctx.root;
    if (load_daemon_config(probe, "aziot-edged", "/etc/aziot/edged/config.toml", "/etc/aziot/edged/config.d",
                           {}, edged).kind == Kind::Ok)
      ctx.proxy_uri = toml_string(*edged, "agent.env.https_proxy");
  }
  if (!ctx.proxy_uri)
    for (const char* var : {"HTTPS_PROXY", "https_proxy"})
      if (const char* v = std::getenv(var); v && *v) {
        ctx.proxy_uri = v;
        break;
      }

  std::vector<Section> sections = identity_sections(program);
  if (iotedge) {
    for (auto& s : sections) s.name += " (aziot-identity-service)";
    auto edged = edged_sections();
    auto first = edged[0].checks[0].run;
    edged[0].checks[0].run = [first](Context& c, Json& info) {
      learn_from_identityd(c);
      return first(c, info);
    };
    for (auto& s : edged) sections.push_back(std::move(s));
  }
  int code = run_checks(ctx, sections, std::cout, [iotedge](const Context& c) {
    Json info{{"now", now_rfc3339()}, {"os", os_info()}, {"system_info", system_info()}};
    if (iotedge) {
      info["docker_version"] = c.docker_version ? Json(*c.docker_version) : Json();
      info["aziot_edged_version"] = c.aziot_edged_version ? Json(*c.aziot_edged_version) : Json();
    } else if (c.identityd) {
      if (toml_string(*c.identityd, "provisioning.source") == "manual")
        info["iothub_hostname"] = toml_string(*c.identityd, "provisioning.iothub_hostname").value_or("");
      if (auto g = toml_string(*c.identityd, "provisioning.local_gateway_hostname")) info["local_gateway_hostname"] = *g;
    }
    return info;
  });
  if (!o.json) std::cout << "\n";
  if (code != 0) std::cerr << "\n\n";  // upstream prints its empty Diagnostics error
  return code;
}

int check_list_command(bool iotedge) {
  std::vector<Section> sections = identity_sections(iotedge ? "iotedge" : "aziotctl");
  if (iotedge) {
    for (auto& s : sections) s.name += " (aziot-identity-service)";
    for (auto& s : edged_sections()) sections.push_back(std::move(s));
  }
  print_list(sections, std::cout);
  return 0;
}

}  // namespace edge::cli::check
