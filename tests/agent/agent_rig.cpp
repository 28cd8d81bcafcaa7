#include "tests/agent/agent_rig.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>

#include "edged/module.h"

namespace agent_test {

Json module(const std::string& status, const std::string& cmd, int order, const std::string& policy,
            Json env, const std::string& image) {
  Json create{{"Cmd", {"/bin/sh", "-c", cmd}}};
  return Json{{"version", "1.0"},
              {"type", "docker"},
              {"status", status},
              {"restartPolicy", policy},
              {"imagePullPolicy", "never"},
              {"startupOrder", order},
              {"settings", {{"image", image}, {"createOptions", create.dump()}}},
              {"env", env}};
}

Json deployment(const Json& modules, int version) {
  return Json{{"modulesContent",
               {{"$edgeAgent",
                 {{"properties.desired",
                   {{"schemaVersion", "1.1"},
                    {"runtime", {{"type", "docker"}, {"settings", Json::object()}}},
                    {"systemModules", Json::object()},
                    {"modules", modules},
                    {"$version", version}}}}}}}};
}

EngineEvents::EngineEvents(std::string prefix) : prefix_(std::move(prefix)) {
  auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  thread_ = std::thread([this, since]() mutable {
    while (!done_) {
      edge::http::UnixClient engine("/var/run/docker.sock");
      Json filters{{"type", {"container"}}, {"event", {"start", "die"}}};
      char cursor[48];
      std::snprintf(cursor, sizeof cursor, "%lld.%09lld",
                    static_cast<long long>(since / 1'000'000'000),
                    static_cast<long long>(since % 1'000'000'000));
      std::string buffer;
      (void)engine.stream(
          "GET",
          "/v1.41/events?filters=" + edge::uri::percent_encode(filters.dump()) + "&since=" + cursor,
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
              Json attrs = e["Actor"].value("Attributes", Json::object());
              std::string name = attrs.value("name", "");
              if (!name.starts_with(prefix_)) continue;
              std::lock_guard lock(mutex_);
              events_.push_back({name, e.value("Action", ""), static_cast<double>(t) / 1e9,
                                 std::atoi(attrs.value("exitCode", "0").c_str())});
            }
            return !done_;
          },
          std::chrono::milliseconds(300));
    }
  });
}

EngineEvents::~EngineEvents() {
  done_ = true;
  thread_.join();
}

std::vector<EngineEvents::Event> EngineEvents::events() {
  std::lock_guard lock(mutex_);
  return events_;
}

size_t EngineEvents::count(const std::string& action) {
  std::lock_guard lock(mutex_);
  return static_cast<size_t>(std::count_if(events_.begin(), events_.end(),
                                           [&](const Event& e) { return e.action == action; }));
}

namespace {
std::string unique_suffix() {
  static int n = 0;
  return std::to_string(getpid()) + "x" + std::to_string(++n);
}
}  // namespace

AgentRig::AgentRig(std::map<std::string, std::string> env)
    : suffix_(unique_suffix()),
      agent_("agent-" + suffix_),
      image_("iotedge-lite/edge-agent:test-" + suffix_),
      env_(std::move(env)),
      mgmt_(edged::ManagementOptions{"/var/run/docker.sock", agent_, "1.5.0", owner()}),
      server_([this](edge::http::Request& r) { return mgmt_.handle(r); }, {}) {
  std::string out;
  int rc = edge::test::run("EDGE_AGENT_BINARY=" + edge::test::bin("edge-agent") +
                               " " EDGE_SOURCE_DIR "/scripts/build-agent-image.sh " + image_ +
                               " 2>&1",
                           &out);
  INFO(out);  // the engine's answer when the build fails
  REQUIRE(rc == 0);
  REQUIRE(server_.listen(*edge::uri::parse_endpoint("unix://" + dir_ / "mgmt.sock")));
  thread_ = std::thread([this] { server_.run(); });
}

AgentRig::~AgentRig() {
  (void)docker_.remove_container(agent_, true);
  // Every container this test made carries the suffix and edged's owner label.
  auto mine = docker_.list_containers({std::string(edged::kOwnerLabel) + "=" + owner()});
  if (mine)
    for (const auto& c : *mine)
      for (const auto& n : c.value("Names", Json::array()))
        if (n.is_string() && n.get<std::string>().ends_with(suffix_))
          (void)docker_.remove_container(c.value("Id", ""), true);
  server_.stop();
  if (thread_.joinable()) thread_.join();
  (void)docker_.remove_image(image_);
}

void AgentRig::write_text(const std::string& text) {
  edge::test::write_file(dir_ / "deployment.json.tmp", text);
  REQUIRE(::rename((dir_ / "deployment.json.tmp").c_str(), (dir_ / "deployment.json").c_str()) ==
          0);
}

void AgentRig::write_manifest(const Json& whole) { write_text(whole.dump()); }

void AgentRig::start_agent() {
  std::map<std::string, std::string> env{
      {"ConfigSource", "local"},
      {"IOTEDGE_MANAGEMENTURI", "unix:///edge/mgmt.sock"},
      {"LocalConfigPath", "/edge/deployment.json"},
      {"StorageFolder", "/edge/storage"},
      {"ReconcileIntervalSecs", "3600"},  // events and the file watch drive it
      {"DeploymentRollbackTimeoutSecs", "0"}};
  for (const auto& [k, v] : env_) env[k] = v;
  Json list = Json::array();
  for (const auto& [k, v] : env) list.push_back(k + "=" + v);
  Json create{
      {"Image", image_}, {"Env", list}, {"HostConfig", {{"Binds", {dir_.path() + ":/edge"}}}}};
  REQUIRE(docker_.create_container(agent_, create));
  REQUIRE(docker_.start(agent_));
}

bool AgentRig::stop_agent(int seconds) { return static_cast<bool>(docker_.stop(agent_, seconds)); }

bool AgentRig::restart_agent() { return static_cast<bool>(docker_.start(agent_)); }

Json AgentRig::inspect(const std::string& n) {
  auto i = docker_.inspect_container(n);
  // A missing container reads as empty sections, so lookups in polling loops never throw.
  return i ? *i
           : Json{{"Id", ""},
                  {"Config", {{"Image", ""}, {"Env", Json::array()}}},
                  {"State", Json::object()}};
}

bool AgentRig::running(const std::string& n) {
  auto i = docker_.inspect_container(n);
  return i && (*i)["State"].value("Running", false);
}

bool AgentRig::exists(const std::string& n) {
  return static_cast<bool>(docker_.inspect_container(n));
}

std::string AgentRig::agent_log() {
  std::string text;
  (void)docker_.logs(agent_, {}, [&](const edged::docker::LogFrame& f) {
    text += f.text;
    return true;
  });
  return text;
}

Json AgentRig::status() {
  auto text = edge::test::read_file(storage() + "/deployment-status.json");
  return Json::parse(text, nullptr, false);
}

bool AgentRig::wait_status(int code, int64_t version, double seconds) {
  return eventually(
      [&] {
        Json s = status();
        return s.is_object() && s.value("code", 0) == code &&
               (version < 0 || s.value("version", int64_t{-2}) == version);
      },
      seconds);
}

}  // namespace agent_test
