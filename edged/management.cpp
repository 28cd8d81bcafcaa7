#include "edged/management.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <thread>

#include "common/log.h"
#include "edged/auth.h"
#include "edged/expose.h"
#include "edged/agent_spec.h"
#include "edged/image_gc.h"
#include "edged/events.h"
#include "edged/module.h"

namespace edged {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;
using edge::Result;
using edge::Status;
using edge::http::ApiRange;
using edge::http::Request;
using edge::http::Response;

const std::vector<std::string> kEdgedApiVersions = {"2018-06-28", "2019-01-30", "2019-10-22", "2019-11-05",
                                                    "2020-07-07", "2021-12-07", "2022-08-03"};

namespace {
const ApiRange kV2018{"2018-06-28", ""};
constexpr int kStopTimeoutSeconds = 10;  // the engine's default grace period
const ApiRange kV2019_01{"2019-01-30", ""};
const ApiRange kV2019_10{"2019-10-22", ""};
const ApiRange kV2019_11{"2019-11-05", ""};


Result<bool> bool_param(const Request& r, const char* name, bool fallback) {
  const auto* v = r.query_param(name);
  if (!v) return fallback;
  if (*v == "true") return true;
  if (*v == "false") return false;
  return invalid(std::string("invalid parameter: ") + name);
}

std::string os_release(const std::string& key) {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(key + "=", 0) != 0) continue;
    std::string v = line.substr(key.size() + 1);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}
}  // namespace

Management::Management(ManagementOptions options)
    : options_(std::move(options)), docker_(options_.docker_socket), router_(kEdgedApiVersions) {
  add_routes();
  add_identity_routes();
  add_bundle_route();
}

Status Management::authorize_module(const std::string& module, pid_t pid) {
  return authorize_caller(docker_, module, pid);
}

// This edged's modules: a test's own owner value, or the owner label / AZIOT_EDGED_SCOPE_LABEL.
std::vector<std::string> Management::filters() const {
  if (options_.owner != kOwner) return {std::string(kOwnerLabel) + "=" + options_.owner};
  return module_filter();
}

Result<Json> Management::list_modules() {
  Json modules = Json::array();
  for (const auto& c : EDGE_TRY(docker_.list_containers(filters()))) {
    auto info = docker_.inspect_container(c.value("Id", ""));
    if (info) modules.push_back(module_details(*info));  // removed meanwhile: skip
  }
  return Json{{"modules", modules}};
}

Status Management::start_module(const std::string& name) {
  if (options_.hooks.before_start) {
    // Only for an existing container: the unauthenticated start route must not make sockets
    // for names that are not modules.
    EDGE_TRY(docker_.inspect_container(name));
    EDGE_TRY_VOID(options_.hooks.before_start(name));
  }
  return docker_.start(name);
}

Status Management::stop_module(const std::string& name, int timeout_seconds) {
  EDGE_TRY_VOID(docker_.stop(name, timeout_seconds));
  if (options_.hooks.after_stop) options_.hooks.after_stop(name);
  return {};
}

Status Management::remove_module(const std::string& name) {
  EDGE_TRY_VOID(docker_.remove_container(name, true));
  if (options_.hooks.after_remove) options_.hooks.after_remove(name);
  return {};
}

Status Management::create(const Json& body, bool start, const std::string& replace) {
  auto spec = EDGE_TRY(parse_module_spec(body));
  if (!replace.empty() && spec.name != replace) return invalid("module name in spec does not match URI");
  if (spec.pull_policy == PullPolicy::OnCreate)
    EDGE_TRY_VOID(pull_and_record(docker_, spec.image, spec.auth, options_.image_use));
  if (!replace.empty()) {
    auto removed = remove_module(replace);
    if (!removed && removed.error().kind != ErrorKind::NotFound) return fail(removed.error());
  }
  Json create = create_body(spec);
  if (!options_.allow_elevated_docker_permissions) restrict_privileges(create);
  create["Labels"][kOwnerLabel] = options_.owner;
  add_scope_label(create);
  EDGE_TRY(docker_.create_container(spec.name, create));
  record_container_image(docker_, spec.name, options_.image_use);
  if (start) EDGE_TRY_VOID(start_module(spec.name));
  return {};
}

void Management::add_routes() {
  auto& r = router_;
  add_event_routes(r, options_.docker_socket, options_.owner);  // beyond upstream: the agent's event stream
  auto list = expose([this](Request&) -> Result<Response> { return Response::json(200, EDGE_TRY(list_modules())); });
  r.add("GET", "/modules", kV2018, list);
  r.add("GET", "/modules/", kV2018, list);

  r.add("POST", "/modules", kV2018, expose([this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(authorize_agent(req.peer.pid));
    auto* body = EDGE_TRY(edge::http::require_body(req));
    EDGE_TRY_VOID(create(*body, false, ""));
    auto spec = EDGE_TRY(parse_module_spec(*body));
    auto info = EDGE_TRY(docker_.inspect_container(spec.name));
    return Response::json(201, module_details(info));
  }));

  r.add("GET", "/modules/{name}", kV2018, expose([this](Request& req) -> Result<Response> {
    return Response::json(200, module_details(EDGE_TRY(docker_.inspect_container(req.params["name"]))));
  }));

  r.add("PUT", "/modules/{name}", kV2018, expose([this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(authorize_agent(req.peer.pid));
    bool start = EDGE_TRY(bool_param(req, "start", false));
    const auto& name = req.params["name"];
    EDGE_TRY_VOID(parse_module_spec(*req.json));
    if (name == options_.agent_name) {
      // The agent replaces itself: answer first, the caller is about to be removed.
      Json body = *req.json;
      std::thread([this, body, start, name] {
        if (auto s = create(body, start, name); !s) edge::log::error("Failed to update " + name + ": " + s.error().message);
      }).detach();
      return Response::json(201, Json{{"name", name}});
    }
    auto old = docker_.inspect_container(name);
    if (old && (*old)["State"].value("Running", false)) (void)stop_module(name, kStopTimeoutSeconds);
    EDGE_TRY_VOID(create(*req.json, start, name));
    return Response::json(201, module_details(EDGE_TRY(docker_.inspect_container(name))));
  }));

  r.add("DELETE", "/modules/{name}", kV2018, expose([this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(authorize_agent(req.peer.pid));
    record_container_image(docker_, req.params["name"], options_.image_use);  // GC counts from here
    EDGE_TRY_VOID(remove_module(req.params["name"]));
    return Response::empty(204);
  }));

  r.add("POST", "/modules/{name}/prepareupdate", kV2019_01, expose([this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(authorize_agent(req.peer.pid));
    auto* body = EDGE_TRY(edge::http::require_body(req));
    auto spec = EDGE_TRY(parse_module_spec(*body));
    if (spec.name != req.params["name"]) return invalid("module name in spec does not match URI");
    if (spec.pull_policy == PullPolicy::OnCreate)
      EDGE_TRY_VOID(pull_and_record(docker_, spec.image, spec.auth, options_.image_use));
    return Response::empty(204);
  }));

  // start / stop / restart; the action segment is case-insensitive as upstream.
  for (std::string action : {"start", "stop", "restart"}) {
    auto handler = expose([this, action](Request& req) -> Result<Response> {
      const auto& name = req.params["name"];
      if (action == "start") EDGE_TRY_VOID(start_module(name));
      else if (action == "stop") EDGE_TRY_VOID(stop_module(name, kStopTimeoutSeconds));
      else {
        // Upstream leaves the socket alone here; a stopped module's socket is gone, so make
        // sure it exists or the engine would bind-mount a directory in its place.
        if (options_.hooks.before_start && docker_.inspect_container(name))
          EDGE_TRY_VOID(options_.hooks.before_start(name));
        EDGE_TRY_VOID(docker_.restart(name, kStopTimeoutSeconds));
      }
      return Response::empty(204);
    });
    std::string upper = action;
    upper[0] = static_cast<char>(std::toupper(upper[0]));
    r.add("POST", "/modules/{name}/" + action, kV2018, handler);
    r.add("POST", "/modules/{name}/" + upper, kV2018, handler);
  }

  r.add("GET", "/modules/{name}/logs", kV2018, expose([this](Request& req) -> Result<Response> {
    docker::LogOptions o;
    o.follow = EDGE_TRY(bool_param(req, "follow", false));
    o.timestamps = EDGE_TRY(bool_param(req, "timestamps", false));
    if (const auto* tail = req.query_param("tail")) {
      if (*tail != "all" && (tail->empty() || !std::all_of(tail->begin(), tail->end(), ::isdigit)))
        return invalid("invalid parameter: tail");
      o.tail = *tail;
    }
    long long now = std::time(nullptr);
    if (const auto* since = req.query_param("since")) {
      auto t = parse_since(*since, now);
      if (!t) return invalid("invalid parameter: since");
      o.since = *t;
    }
    if (const auto* until = req.query_param("until")) {
      auto t = parse_since(*until, now);
      if (!t) return invalid("invalid parameter: until");
      o.until = *t;
    }
    std::string name = req.params["name"];
    EDGE_TRY(docker_.inspect_container(name));  // 404 before the stream starts
    Response resp;
    resp.content_type = "text/plain";
    if (!o.follow) {
      EDGE_TRY_VOID(docker_.logs_raw(name, o, [&](std::string_view piece) {
        resp.body.append(piece);
        return resp.body.size() < 64 * 1024 * 1024;
      }));
      return resp;
    }
    resp.stream = [this, name, o](const edge::http::ChunkSink& sink) {
      (void)docker_.logs_raw(name, o, [&](std::string_view piece) { return sink(piece); });
    };
    return resp;
  }));

  // The agent asks for a new device identity: edged answers, then stops, reprovisions through
  // identityd and exits 154 so systemd restarts it with the new identity (as upstream).
  r.add("POST", "/device/reprovision", kV2019_10, expose([this](Request& req) -> Result<Response> {
    EDGE_TRY_VOID(authorize_agent(req.peer.pid));
    if (!options_.request_reprovision) return edge::internal("failed to send reprovision request");
    Response resp = Response::empty(204);
    resp.after_sent = options_.request_reprovision;  // the agent gets its answer first
    return resp;
  }));

  r.add("GET", "/systeminfo", kV2018, expose([this](Request&) -> Result<Response> {
    utsname u{};
    ::uname(&u);
    Json info{{"osType", u.sysname}, {"architecture", u.machine}, {"version", options_.version},
              {"kernel_release", u.release}, {"kernel_version", u.version},
              {"cpus", static_cast<int>(std::thread::hardware_concurrency())},
              {"provisioning", {{"type", "ProvisioningType"}, {"dynamicReprovisioning", false}, {"alwaysReprovisionOnStartup", false}}}};
    if (auto os = os_release("ID"); !os.empty()) info["operating_system"] = os;
    if (auto v = os_release("VERSION_ID"); !v.empty()) info["operating_system_version"] = v;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) info["total_memory"] = static_cast<long long>(pages) * page;
    if (auto v = docker_.version(); v) info["server_version"] = v->value("Version", "");
    return Response::json(200, info);
  }));
}

}  // namespace edged
