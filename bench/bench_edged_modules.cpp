// edged: a module's create + start as the management API does it (ModuleSpec parsed, Docker
// body built with upstream's merge rules, image use recorded for GC, start through the
// management socket) next to the same two raw Engine API calls, measured in this run on the
// same engine; and GET /modules next to the raw list + inspects it wraps.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/support.h"
#include "common/http/server.h"
#include "edged/image_gc.h"
#include "edged/management.h"
#include "edged/module.h"

using edge::http::Json;
using namespace edged;

namespace {
constexpr int kModules = 15;
const std::string kImage = "edge-test-busybox:1";

void die(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  std::exit(1);
}

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

Json spec(const std::string& name) {
  return Json{{"name", name},
              {"type", "docker"},
              {"imagePullPolicy", "never"},
              {"config",
               {{"settings", {{"image", kImage}, {"createOptions", {{"Cmd", {"sleep", "60"}}}}}},
                {"env", {{{"key", "MODULE"}, {"value", name}}}}}}};
}
}  // namespace

int main() {
  std::string dir = bench::temp_dir();
  std::string prefix = "bench-edged-" + std::to_string(getpid()) + "-";
  docker::Client docker;
  if (!docker.inspect_image(kImage))
    die("image " + kImage + " missing: run scripts/setup/docker.sh");
  ImageUse use(dir);
  ManagementOptions options;
  options.agent_name = "bench-agent-absent";
  options.image_use = &use;
  Management mgmt(options);
  edge::http::Server server([&](edge::http::Request& r) { return mgmt.handle(r); }, {});
  if (!server.listen(*edge::uri::parse_endpoint("unix://" + dir + "/mgmt.sock")))
    die("cannot listen");
  std::thread t([&] { server.run(); });
  edge::http::UnixClient client(dir + "/mgmt.sock");
  auto cleanup = [&](const std::string& kind) {
    for (int i = 0; i < kModules; ++i)
      (void)docker.remove_container(prefix + kind + std::to_string(i), true);
  };

  // Interleaved so engine load drifts hit both alike. edged: the route's steps (create is
  // agent-only over HTTP, so it runs in-process), then the start over the management socket.
  // Raw: the same create body posted and started directly.
  double ours = 0, raw = 0;
  Json body = create_body(*parse_module_spec(spec("x")));
  for (int i = 0; i < kModules; ++i) {
    std::string name = prefix + "m" + std::to_string(i);
    auto t0 = std::chrono::steady_clock::now();
    auto parsed = parse_module_spec(spec(name));
    if (!parsed) die(parsed.error().message);
    Json create = create_body(*parsed);
    add_scope_label(create);
    if (!docker.create_container(name, create)) die("create failed");
    record_container_image(docker, name, &use);
    auto r = client.request("POST", "/modules/" + name + "/start?api-version=2022-08-03");
    if (!r || r->status != 204) die("start through the management API failed");
    ours += ms_since(t0);

    std::string raw_name = prefix + "r" + std::to_string(i);
    t0 = std::chrono::steady_clock::now();
    if (!docker.create_container(raw_name, body) || !docker.start(raw_name))
      die("raw create failed");
    raw += ms_since(t0);
  }
  bench::row("module create+start via edged (ms/module)", ours / kModules,
             "raw Engine API create+start", raw / kModules, "ms");

  // Listing: GET /modules (edged lists by label and inspects each) vs the same engine calls.
  constexpr int kLists = 10;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kLists; ++i) {
    auto r = client.request("GET", "/modules?api-version=2022-08-03");
    if (!r || r->status != 200) die("list failed");
  }
  double list_ours = ms_since(t0) / kLists;
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kLists; ++i) {
    auto all = docker.list_containers(module_filter());
    if (!all) die("raw list failed");
    for (const auto& c : *all) (void)docker.inspect_container(c.value("Id", ""));
  }
  double list_raw = ms_since(t0) / kLists;
  bench::row("GET /modules via edged (ms/list)", list_ours, "raw list + inspect each", list_raw,
             "ms");

  cleanup("m");
  cleanup("r");
  server.stop();
  t.join();
  return 0;
}
