// The edge agent: a 20-module deployment from a local manifest to all running, next to the
// same containers created and started by a raw Engine API loop in this run; crash -> restart
// latency next to the engine's own restart policy; the agent's PSS idle and its image size.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "bench/support.h"
#include "common/http/server.h"
#include "common/uri.h"
#include "edged/management.h"
#include "edged/module.h"

using edge::http::Json;
using namespace std::chrono_literals;

namespace {
constexpr int kModules = 20;
const std::string kImage = "edge-test-busybox:1";
const std::string kCmd = "trap 'exit 0' TERM; sleep 600 & wait";

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void write_file(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  std::rename(tmp.c_str(), path.c_str());
}

Json module(const std::string& cmd, const std::string& policy) {
  return Json{
      {"version", "1.0"},
      {"type", "docker"},
      {"status", "running"},
      {"restartPolicy", policy},
      {"imagePullPolicy", "never"},
      {"settings",
       {{"image", kImage}, {"createOptions", Json{{"Cmd", {"/bin/sh", "-c", cmd}}}.dump()}}}};
}

std::string manifest(const Json& modules) {
  return Json{{"schemaVersion", "1.1"},
              {"runtime", {{"type", "docker"}, {"settings", Json::object()}}},
              {"modules", modules}}
      .dump();
}

// Engine "start"/"die" events of containers whose name starts with `prefix`, with their times.
class EngineEvents {
 public:
  explicit EngineEvents(std::string prefix) : prefix_(std::move(prefix)) {
    int64_t since = static_cast<int64_t>(now_s() * 1e9);
    thread_ = std::thread([this, since]() mutable {
      while (!done_) {  // re-attached from the last event's time: none is lost
        edge::http::UnixClient engine("/var/run/docker.sock");
        Json filters{{"type", {"container"}}, {"event", {"start", "die"}}};
        char cursor[48];
        std::snprintf(cursor, sizeof cursor, "%lld.%09lld",
                      static_cast<long long>(since / 1'000'000'000),
                      static_cast<long long>(since % 1'000'000'000));
        std::string buffer;
        (void)engine.stream(
            "GET",
            "/v1.41/events?filters=" + edge::uri::percent_encode(filters.dump()) +
                "&since=" + cursor,
            "", "", {},
            [&](std::string_view piece) {
              buffer.append(piece);
              size_t nl;
              while ((nl = buffer.find('\n')) != std::string::npos) {
                Json e = Json::parse(buffer.substr(0, nl), nullptr, false);
                buffer.erase(0, nl + 1);
                if (!e.is_object()) continue;
                int64_t t = e.value("timeNano", int64_t{0});
                since = std::max(since, t + 1);
                std::string name = e["Actor"]["Attributes"].value("name", "");
                if (!name.starts_with(prefix_)) continue;
                std::lock_guard lock(m_);
                seen_.push_back({name, e.value("Action", ""), static_cast<double>(t) / 1e9});
              }
              return !done_;
            },
            300ms);
      }
    });
  }
  ~EngineEvents() {
    done_ = true;
    thread_.join();
  }
  struct Event {
    std::string name, action;
    double t;
  };
  std::vector<Event> snapshot() {
    std::lock_guard lock(m_);
    return seen_;
  }
  // Time of the n-th event with this action (0 while fewer happened).
  double nth(const std::string& action, size_t n) {
    size_t k = 0;
    for (const auto& e : snapshot())
      if (e.action == action && ++k == n) return e.t;
    return 0;
  }

 private:
  std::string prefix_;
  std::atomic<bool> done_{false};
  std::mutex m_;
  std::vector<Event> seen_;
  std::thread thread_;
};

// Median gap die -> next start of the same container.
double median_restart_latency(const std::vector<EngineEvents::Event>& events) {
  std::vector<double> gaps;
  std::map<std::string, double> died;
  for (const auto& e : events) {
    if (e.action == "die")
      died[e.name] = e.t;
    else if (e.action == "start" && died.count(e.name)) {
      gaps.push_back(e.t - died[e.name]);
      died.erase(e.name);
    }
  }
  if (gaps.empty()) return 0;
  std::sort(gaps.begin(), gaps.end());
  return gaps[gaps.size() / 2];
}
}  // namespace

int main() {
  std::string dir = bench::temp_dir();
  std::string tag = std::to_string(getpid());
  std::string prefix = "bench" + tag + "m";
  edged::docker::Client docker;
  std::string image = "iotedge-lite/edge-agent:bench-" + tag;
  if (std::system(("EDGE_AGENT_BINARY=" + bench::bin("edge-agent") +
                   " " EDGE_SOURCE_DIR "/scripts/build-agent-image.sh " + image + " >/dev/null")
                      .c_str()) != 0)
    return 1;

  // Baseline: the engine alone, the create body edged makes for the same module.
  std::vector<std::string> names;
  for (int i = 0; i < kModules; ++i) names.push_back(prefix + std::to_string(i));
  double raw;
  {
    edged::ModuleSpec spec;
    spec.image = kImage;
    spec.create_options = Json{{"Cmd", {"/bin/sh", "-c", kCmd}}};
    Json body = edged::create_body(spec);
    body["Labels"][edged::kOwnerLabel] = "bench-" + tag;  // as the agent's edged labels them
    double t0 = now_s();
    for (const auto& n : names) {
      if (!docker.create_container(n, body) || !docker.start(n)) return 1;
    }
    raw = now_s() - t0;
    for (const auto& n : names) (void)docker.remove_container(n, true);
  }

  // The agent in its container, against edged's management API served here.
  std::string agent = "bench-agent-" + tag;
  edged::Management mgmt(
      edged::ManagementOptions{"/var/run/docker.sock", agent, "1.5.0", "bench-" + tag});
  edge::http::Server server([&](edge::http::Request& r) { return mgmt.handle(r); }, {});
  if (!server.listen(*edge::uri::parse_endpoint("unix://" + dir + "/mgmt.sock"))) return 1;
  std::thread serving([&] { server.run(); });
  write_file(dir + "/deployment.json", manifest(Json::object()));
  Json create{
      {"Image", image},
      {"Env",
       {"ConfigSource=local", "IOTEDGE_MANAGEMENTURI=unix:///edge/mgmt.sock", "LocalConfigPath=/edge/deployment.json",
        "StorageFolder=/edge/storage", "ReconcileIntervalSecs=3600",
        "DeploymentRollbackTimeoutSecs=0", "CoolOffTimeUnitInSeconds=0", "RuntimeLogLevel=warn"}},
      {"HostConfig", {{"Binds", {dir + ":/edge"}}}}};
  if (!docker.create_container(agent, create) || !docker.start(agent)) return 1;
  std::this_thread::sleep_for(2s);

  double deploy = 0;
  {
    EngineEvents events(prefix);
    std::this_thread::sleep_for(300ms);
    Json modules = Json::object();
    for (const auto& n : names) modules[n] = module(kCmd, "always");
    double t0 = now_s();
    write_file(dir + "/deployment.json", manifest(modules));
    for (int i = 0; i < 600 && events.nth("start", kModules) == 0; ++i)
      std::this_thread::sleep_for(50ms);
    double last = events.nth("start", kModules);
    if (last == 0) {
      std::fprintf(stderr, "the agent did not start %d modules\n", kModules);
      return 1;
    }
    deploy = last - t0;
  }
  std::this_thread::sleep_for(3s);
  auto info = docker.inspect_container(agent);
  pid_t pid = info ? static_cast<pid_t>((*info)["State"].value("Pid", 0)) : 0;
  long pss_idle = pid ? bench::pss_kib(pid) : 0;
  if (pid && std::getenv("AGENT_SMAPS"))  // where the PSS goes, per mapping
    (void)std::system(("awk '/^[0-9a-f]+-[0-9a-f]+ /{k=$6\" \"$2} /^Pss:/{p[k]+=$2} "
                       "/^Anonymous:/{a[k]+=$2} END{for(k in p) if(p[k]>0) printf \"%6d KiB "
                       "(anon %d) %s\\n\", p[k], a[k], k}' /proc/" +
                       std::to_string(pid) + "/smaps | sort -rn >&2")
                          .c_str());

  // Crash -> restart: the agent (cool-off unit 0) next to the engine's own restart policy.
  double agent_restart = 0, engine_restart = 0;
  {
    std::string crash = prefix + "crash";
    EngineEvents events(crash);
    std::this_thread::sleep_for(300ms);
    write_file(dir + "/deployment.json",
               manifest(Json{{crash, module("sleep 1; exit 1", "on-failure")}}));
    for (int i = 0; i < 400 && events.nth("start", 6) == 0; ++i) std::this_thread::sleep_for(50ms);
    agent_restart = median_restart_latency(events.snapshot());
    write_file(dir + "/deployment.json", manifest(Json::object()));
  }
  {
    std::string crash = prefix + "native";
    EngineEvents events(crash);
    std::this_thread::sleep_for(300ms);
    Json body{
        {"Image", kImage},
        {"Cmd", {"/bin/sh", "-c", "sleep 1; exit 1"}},
        {"HostConfig", {{"RestartPolicy", {{"Name", "on-failure"}, {"MaximumRetryCount", 10}}}}}};
    if (docker.create_container(crash, body) && docker.start(crash))
      for (int i = 0; i < 400 && events.nth("start", 4) == 0; ++i)
        std::this_thread::sleep_for(50ms);
    engine_restart = median_restart_latency(events.snapshot());
    (void)docker.remove_container(crash, true);
  }

  auto img = docker.inspect_image(image);
  double size_mb = img ? static_cast<double>(img->value("Size", int64_t{0})) / 1e6 : 0;
  (void)docker.remove_container(agent, true);
  for (const auto& n : names) (void)docker.remove_container(n, true);
  (void)docker.remove_container(prefix + "crash", true);
  server.stop();
  serving.join();
  (void)docker.remove_image(image);

  std::printf("edge agent, %d modules from a local manifest (cached image), same run:\n", kModules);
  bench::row("manifest -> all running (ms)", deploy * 1000, "raw Engine API create+start loop",
             raw * 1000, "ms");
  bench::row("crash -> restart (median ms)", agent_restart * 1000,
             "engine restart policy on-failure", engine_restart * 1000, "ms");
  std::printf("%-44s %12ld KiB\n", "agent PSS idle", pss_idle);
  std::printf("%-44s %12.1f MB\n", "agent image size", size_mb);
  return 0;
}
