// GET /systeminfo/supportbundle (api-version 2020-07-07+, no auth, as upstream): the zip
// `iotedge support-bundle` makes (cli/bundle builds the layout), with the modules, their logs
// and the inspects taken from the engine directly; `iotedge check` and journalctl run as
// child processes. Query: since, until (as the logs route), iothub_hostname, edge_runtime_only.
#include <algorithm>
#include <cctype>
#include <ctime>

#include "cli/bundle/bundle.h"
#include "common/log.h"
#include "edged/management.h"
#include "edged/module.h"

namespace edged {
namespace {
using edge::Result;
using edge::http::Request;
using edge::http::Response;
namespace bundle = edge::cli::bundle;

constexpr size_t kMaxLogBytes = 256 * 1024 * 1024;  // per module, keeps the bundle bounded
constexpr auto kCheckTimeout = std::chrono::seconds(120);

class EngineSources : public bundle::Sources {
 public:
  EngineSources(Management& mgmt, docker::Client& docker, const ManagementOptions& options)
      : mgmt_(mgmt), docker_(docker), options_(options) {}

  std::string check(const std::optional<std::string>& iothub_hostname) override {
    std::vector<std::string> argv{options_.iotedge_program, "-H", options_.iotedge_host, "check", "-o", "json"};
    if (iothub_hostname) {
      argv.push_back("--iothub-hostname");
      argv.push_back(*iothub_hostname);
    }
    std::string out, err;
    if (bundle::run_command(argv, &out, &err, kCheckTimeout) < 0)
      return "Could not run " + options_.iotedge_program + "\n";
    return out + err;
  }

  std::vector<std::string> modules() override {
    std::vector<std::string> names;
    auto list = mgmt_.list_modules();
    if (!list) {
      edge::log::warn("Support bundle: could not list modules: " + list.error().message);
      return names;
    }
    for (const auto& m : (*list)["modules"]) names.push_back(m.value("name", ""));
    return names;
  }

  std::string module_logs(const std::string& module, long long since,
                          std::optional<long long> until) override {
    docker::LogOptions o;
    o.since = since;
    o.until = until;
    o.tail = "all";
    bundle::FrameText logs;
    auto s = docker_.logs_raw(module, o, [&](std::string_view piece) {
      logs.feed(piece);
      return logs.text.size() < kMaxLogBytes;
    });
    if (!s) logs.text += "Could not read the logs of " + module + ": " + s.error().message + "\n";
    return logs.text;
  }

  // The engine's inspect JSON as `docker inspect` prints it: an array of one object.
  bundle::Captured inspect_module(const std::string& module) override {
    return captured(docker_.inspect_container(module));
  }

  std::vector<std::string> networks() override {
    std::vector<std::string> names;
    if (auto list = docker_.list_networks(Json::object()))
      for (const auto& n : *list) names.push_back(n.value("Name", ""));
    return names;
  }

  bundle::Captured inspect_network(const std::string& network) override {
    return captured(docker_.inspect_network(network));
  }

 private:
  static bundle::Captured captured(const Result<Json>& r) {
    if (!r) return {bundle::Captured::Kind::Failed, Json{{"message", r.error().message}}.dump(4)};
    return {bundle::Captured::Kind::Ok, Json::array({*r}).dump(4)};
  }

  Management& mgmt_;
  docker::Client& docker_;
  const ManagementOptions& options_;
};

Result<std::optional<long long>> time_param(const Request& r, const char* name, long long now) {
  const auto* v = r.query_param(name);
  if (!v) return std::optional<long long>();
  auto t = parse_since(*v, now);
  if (!t) return edge::invalid(std::string("invalid parameter: ") + name);
  return std::optional<long long>(*t);
}
}  // namespace

void Management::add_bundle_route() {
  router_.add("GET", "/systeminfo/supportbundle", {"2020-07-07", ""}, [this](Request& req) -> Result<Response> {
    long long now = std::time(nullptr);
    bundle::BundleOptions o;
    auto since = time_param(req, "since", now);
    auto until = since ? time_param(req, "until", now) : since;
    if (!until) return Response::error(400, until.error().message);
    o.since = since->value_or(0);  // upstream's default: every log line
    o.until = *until;
    if (const auto* v = req.query_param("edge_runtime_only")) {
      if (*v != "true" && *v != "false")
        return Response::error(400, "invalid parameter: edge_runtime_only");
      o.edge_runtime_only = *v == "true";
    }
    if (const auto* v = req.query_param("iothub_hostname"); v && !v->empty()) {
      // It becomes an argument of `iotedge check`: a host name, never an option.
      bool host = v->size() <= 255 && v->front() != '-' &&
                  std::all_of(v->begin(), v->end(), [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-'; });
      if (!host) return Response::error(400, "invalid parameter: iothub_hostname");
      o.iothub_hostname = *v;
    }
    o.config_files = options_.bundle_config_files;
    EngineSources sources(*this, docker_, options_);
    auto zip = bundle::make_bundle(o, sources, [](const std::string& line) { edge::log::debug(line); });
    if (!zip) return Response::error(500, "could not make the support bundle: " + zip.error().message);
    Response resp;
    resp.content_type = "application/zip";
    resp.headers.emplace_back("content-encoding", "deflate");  // upstream's header
    resp.body = std::move(*zip);
    return resp;
  });
}

}  // namespace edged
