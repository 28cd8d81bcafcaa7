#include "agent/runner.h"

#include <strings.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/uri.h"

namespace agent {
using edge::Result;
using edge::Status;

namespace {
std::string api(const std::string& target, const AgentEnvironment& e) {
  return target + (target.find('?') == std::string::npos ? "?" : "&") +
         "api-version=" + e.api_version;
}

// RFC 3339 (as the engine writes it, with nanoseconds) to unix milliseconds; 0 for none.
int64_t parse_time_ms(const std::string& t) {
  if (t.empty() || t.starts_with("0001-")) return 0;
  std::tm tm{};
  const char* rest = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  if (*rest == '.') {
    int64_t scale = 100;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) ms += (*rest - '0') * scale;
  }
  return ms;
}

std::string format_time(int64_t ms) {
  if (ms <= 0) return "";
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

RuntimeStatus from_edged(const std::string& s) {
  if (s == "running") return RuntimeStatus::Running;
  if (s == "stopped") return RuntimeStatus::Stopped;
  if (s == "failed") return RuntimeStatus::Failed;
  if (s == "dead") return RuntimeStatus::Dead;
  return RuntimeStatus::Unknown;
}

Json module_to_json(const Module& m) {
  Json env = Json::object();
  for (const auto& [k, v] : m.env) env[k] = v;
  return Json{{"name", m.name},
              {"version", m.version},
              {"status", m.status == DesiredStatus::Running ? "running" : "stopped"},
              {"restartPolicy", to_string(m.restart_policy)},
              {"pullOnCreate", m.pull_on_create},
              {"startupOrder", m.startup_order},
              {"image", m.image},
              {"createOptions", m.create_options},
              {"digest", m.digest},
              {"env", env}};
}

Module module_from_json(const Json& j) {
  Module m;
  m.name = j.value("name", "");
  m.version = j.value("version", "");
  m.status =
      j.value("status", "running") == "running" ? DesiredStatus::Running : DesiredStatus::Stopped;
  std::string p = j.value("restartPolicy", "always");
  m.restart_policy = p == "never"          ? RestartPolicy::Never
                     : p == "on-failure"   ? RestartPolicy::OnFailure
                     : p == "on-unhealthy" ? RestartPolicy::OnUnhealthy
                                           : RestartPolicy::Always;
  m.pull_on_create = j.value("pullOnCreate", true);
  m.startup_order = j.value("startupOrder", kDefaultStartupOrder);
  m.image = j.value("image", "");
  m.create_options = j.value("createOptions", Json::object());
  m.digest = j.value("digest", "");
  const Json env = j.value("env", Json::object());  // a named copy: items() must not outlive it
  for (const auto& [k, v] : env.items())
    if (v.is_string()) m.env[k] = v.get<std::string>();
  return m;
}

// Identifies a command across passes for the retry back-off (as upstream's command ids).
std::string command_key(const Command& c) {
  std::string key = std::string(to_string(c.op)) + ":" + c.module;
  if (c.spec) key += ":" + module_to_json(*c.spec).dump();
  return key;
}

bool needs_identity(const Command& c) {
  return (c.op == Op::Create || c.op == Op::Update) && c.module != "edgeAgent";
}
}  // namespace

Runner::Runner(RunnerOptions options)
    : options_(std::move(options)), mgmt_(options_.management_socket) {
  load_state();
}

void Runner::load_state() {
  auto text = edge::fs::read_file(options_.storage_dir + "/agent-state.json");
  if (!text) return;
  // The state is the agent's own file, but a corrupt one must not stop the agent: start afresh.
  try {
    Json j = Json::parse(*text);
    const Json applied = j.at("applied"), restarts = j.at("restarts");
    for (const auto& m : applied) applied_[m.at("name").get<std::string>()] = module_from_json(m);
    for (const auto& [k, v] : restarts.items())
      restarts_[k] = v.is_object() ? Restarts{v.value("count", 0), v.value("lastMs", int64_t{0})}
                                   : Restarts{v.get<int>(), 0};
  } catch (const Json::exception& e) {
    edge::log::warn(std::string("Ignoring unreadable agent state: ") + e.what());
    applied_.clear();
    restarts_.clear();
  }
}

void Runner::save_state() const {
  Json applied = Json::array();
  for (const auto& [n, m] : applied_) applied.push_back(module_to_json(m));
  Json restarts = Json::object();
  for (const auto& [n, r] : restarts_) restarts[n] = {{"count", r.count}, {"lastMs", r.last_ms}};
  Json state{{"applied", applied}, {"restarts", restarts}};
  if (auto s =
          edge::fs::write_atomic(options_.storage_dir + "/agent-state.json", state.dump(), 0600);
      !s)
    edge::log::warn("Failed to save agent state: " + s.error().message);
}

Result<std::vector<std::string>> Runner::stop_all() {
  auto current = EDGE_TRY(this->current());
  std::vector<std::string> names;
  for (const auto& [name, c] : current)
    if (name != "edgeAgent" && c.edged_status == RuntimeStatus::Running) names.push_back(name);
  std::vector<edge::Status> results(names.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i)
    threads.emplace_back([&, i] {
      edge::http::UnixClient client(options_.management_socket, std::chrono::seconds(60));
      auto r = client.request(
          "POST", api("/modules/" + edge::uri::percent_encode(names[i]) + "/stop", options_.env));
      if (!r)
        results[i] = std::unexpected(r.error().context("stop " + names[i]));
      else if (r->status != 204 && r->status != 304)
        results[i] = edge::internal("stop " + names[i] + ": " + std::to_string(r->status) + " " +
                                    r->message());
    });
  for (auto& t : threads) t.join();
  for (const auto& r : results)
    if (!r) return std::unexpected(r.error());
  return names;
}

Result<std::map<std::string, Current>> Runner::current() {
  auto r = EDGE_TRY(mgmt_.request("GET", api("/modules", options_.env)));
  if (r.status != 200) return edge::internal("edged listed no modules: " + r.message());
  auto body = EDGE_TRY(r.json());
  std::map<std::string, Current> out;
  raw_modules_.clear();
  const Json modules = body.value("modules", Json::array());
  if (!modules.is_array()) return edge::internal("edged answered an invalid module list");
  for (const auto& d : modules) {
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string()) continue;
    Current c;
    c.name = d["name"];
    const Json status = d.value("status", Json::object());
    c.edged_status =
        from_edged(status.value("runtimeStatus", Json::object()).value("status", "unknown"));
    c.start_ms = parse_time_ms(status.value("startTime", ""));
    c.exit_ms = parse_time_ms(status.value("exitStatus", Json::object()).value("exitTime", ""));
    if (auto it = restarts_.find(c.name); it != restarts_.end()) c.restart_count = it->second.count;
    if (auto it = applied_.find(c.name); it != applied_.end()) {
      c.applied = it->second;
      c.image = it->second.image;
    }
    raw_modules_[c.name] = d;
    out[c.name] = c;
  }
  return out;
}

std::map<std::string, std::string> Runner::sync_identities(const std::vector<Command>& commands) {
  std::set<std::string> wanted, removed;
  for (const auto& c : commands) {
    if (needs_identity(c)) wanted.insert(module_identity(c.module));
    if (c.op == Op::Remove && !applied_.count(c.module)) continue;
    if (c.op == Op::Remove) removed.insert(module_identity(c.module));
  }
  for (const auto& c : commands)  // a dead module removed and created again keeps its identity
    if (needs_identity(c)) removed.erase(module_identity(c.module));
  std::map<std::string, std::string> generation;
  if (wanted.empty() && removed.empty()) return generation;
  auto list = mgmt_.request("GET", api("/identities", options_.env));
  if (list && list->status == 404) {  // an edged without the identity service: none to manage
    for (const auto& c : commands) generation[c.module] = "";
    return generation;
  }
  Json existing = Json::array();
  if (list && list->status == 200)
    if (auto j = list->json(); j && j->contains("identities") && (*j)["identities"].is_array())
      existing = (*j)["identities"];
  auto without_identities = [&] {
    if (!options_.require_identities)
      for (const auto& c : commands)
        if (needs_identity(c)) generation.try_emplace(c.module, "");
    return generation;
  };
  if (!list || list->status != 200) {
    edge::log::warn("Failed to list module identities: " +
                    (list ? list->message() : list.error().message));
    return without_identities();  // upstream skips the modules that need one this pass
  }
  std::map<std::string, Json> by_id;
  for (const auto& i : existing)
    if (i.is_object() && i.contains("moduleId") && i["moduleId"].is_string())
      by_id[i["moduleId"]] = i;
  for (const auto& id : removed) {
    auto it = by_id.find(id);
    if (it == by_id.end() || strcasecmp(it->second.value("managedBy", "").c_str(), "IotEdge") != 0)
      continue;
    auto r =
        mgmt_.request("DELETE", api("/identities/" + edge::uri::percent_encode(id), options_.env));
    if (!r || (r->status != 204 && r->status != 404))
      edge::log::warn("Failed to delete the identity of " + id + ": " +
                      (r ? r->message() : r.error().message));
  }
  for (const auto& c : commands) {
    if (!needs_identity(c) || generation.count(c.module)) continue;
    std::string id = module_identity(c.module);
    Result<edge::http::ClientResponse> r = edge::internal("not attempted");
    if (by_id.count(id))
      r = mgmt_.request("PUT", api("/identities/" + edge::uri::percent_encode(id), options_.env),
                        Json{{"moduleId", id},
                             {"generationId", by_id[id].value("generationId", "")},
                             {"managedBy", "IotEdge"}});
    else
      r = mgmt_.request("POST", api("/identities", options_.env),
                        Json{{"moduleId", id}, {"managedBy", "IotEdge"}});
    if (r && r->status / 100 == 2) {
      auto j = r->json();
      generation[c.module] = j && j->is_object() ? j->value("generationId", "") : "";
    } else {
      edge::log::warn("Unable to process module " + c.module +
                      " add or update as the module identity could not be obtained: " +
                      (r ? r->message() : r.error().message));
    }
  }
  return without_identities();
}

Status Runner::execute(edge::http::UnixClient& mgmt, const Command& c, const Deployment& d,
                       const std::map<std::string, std::string>& generation, int64_t now) {
  std::string base = "/modules/" + edge::uri::percent_encode(c.module);
  auto expect = [&](const Result<edge::http::ClientResponse>& r,
                    std::initializer_list<int> ok) -> Status {
    if (!r) return std::unexpected(r.error());
    for (int s : ok)
      if (r->status == s) return {};
    return edge::internal(std::string(to_string(c.op)) + " " + c.module + ": " +
                          std::to_string(r->status) + " " + r->message());
  };
  auto spec = [&] {
    auto it = generation.find(c.module);
    return module_spec(*c.spec, d, options_.env, it == generation.end() ? "" : it->second);
  };
  const auto& e = options_.env;
  switch (c.op) {
    case Op::PrepareUpdate:
      return expect(mgmt.request("POST", api(base + "/prepareupdate", e), spec()), {204, 200});
    case Op::Create:
      EDGE_TRY_VOID(expect(mgmt.request("POST", api("/modules", e), spec()), {201, 200}));
      remember_applied(c.module, *c.spec);
      return {};
    case Op::Update: {
      // The agent replaces itself with start=true: edged answers before removing the caller.
      bool start = c.module == "edgeAgent";
      EDGE_TRY_VOID(expect(
          mgmt.request("PUT", api(base + (start ? "?start=true" : "?start=false"), e), spec()),
          {201, 200}));
      remember_applied(c.module, *c.spec);
      return {};
    }
    case Op::Start:
    case Op::Stop:
      EDGE_TRY_VOID(
          expect(mgmt.request("POST", api(base + (c.op == Op::Start ? "/start" : "/stop"), e)),
                 {204, 304}));
      if (c.spec) remember_applied(c.module, *c.spec);  // a desired-status change
      return {};
    case Op::Restart: {
      // Stop + start as upstream (its Windows workaround), counted for the back-off.
      {
        std::lock_guard lock(book_mutex_);
        auto& r = restarts_[c.module];
        ++r.count;
        r.last_ms = now;
      }
      EDGE_TRY_VOID(expect(mgmt.request("POST", api(base + "/stop", e)), {204, 304}));
      return expect(mgmt.request("POST", api(base + "/start", e)), {204, 304});
    }
    case Op::Remove:
      EDGE_TRY_VOID(expect(mgmt.request("DELETE", api(base, e)), {204, 404}));
      {
        std::lock_guard lock(book_mutex_);
        applied_.erase(c.module);
        restarts_.erase(c.module);
      }
      return {};
    case Op::ResetRestarts: {
      std::lock_guard lock(book_mutex_);
      restarts_.erase(c.module);
      return {};
    }
  }
  return {};
}

void Runner::remember_applied(const std::string& module, const Module& m) {
  std::lock_guard lock(book_mutex_);
  applied_[module] = m;
}

void Runner::wait_until_up(const std::vector<std::string>& modules) {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.group_wait_ms);
  for (const auto& name : modules) {
    while (std::chrono::steady_clock::now() < deadline) {
      auto r =
          mgmt_.request("GET", api("/modules/" + edge::uri::percent_encode(name), options_.env));
      if (!r || r->status != 200) break;
      auto j = r->json();
      if (!j || !j->is_object()) break;
      // Up, or already exited again: either way the next group may go.
      std::string status =
          (*j)["status"].value("runtimeStatus", Json::object()).value("status", "");
      if (status != "stopped" || j->at("status").contains("exitStatus")) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

bool Runner::run_chain(edge::http::UnixClient& client, const std::vector<const Command*>& chain,
                       const Deployment& d, const std::map<std::string, std::string>& generation,
                       int64_t now, PassResult& result) {
  bool started = false;
  for (const Command* c : chain) {
    std::string key = command_key(*c);
    {
      std::lock_guard lock(book_mutex_);
      if (needs_identity(*c) && !generation.count(c->module)) {
        ++result.skipped;
        return started;
      }
      if (auto it = failed_commands_.find(key); it != failed_commands_.end()) {
        const Attempts& a = it->second;
        int64_t wait = options_.restart.cool_off_unit_ms << std::min(a.runs, 30);
        if (a.runs >= options_.restart.max_restart_count || now - a.last_ms <= wait) {
          ++result.skipped;  // held back by its retry back-off, with the rest of the module
          return started;
        }
      }
    }
    auto s = execute(client, *c, d, generation, now);
    std::lock_guard lock(book_mutex_);
    if (c->op != Op::ResetRestarts)
      result.summary +=
          std::string(result.summary.empty() ? "" : ", ") + to_string(c->op) + " " + c->module;
    if (!s) {
      ++result.failed;
      auto& a = failed_commands_[key];
      ++a.runs;
      a.last_ms = now;
      if (result.first_error.empty()) result.first_error = s.error().message;
      edge::log::error("Failed to " + std::string(to_string(c->op)) + " " + c->module + ": " +
                       s.error().message);
      return started;  // its later steps depend on this one
    }
    failed_commands_.erase(key);
    if (c->op == Op::Start || c->op == Op::Restart) started = true;
  }
  return started;
}

Result<PassResult> Runner::reconcile(const Deployment& deployment, int64_t version, int64_t now) {
  auto current_modules = EDGE_TRY(current());
  auto desired = deployment.all();
  PassResult result;
  result.converged = converged(desired, current_modules);
  auto commands = plan(desired, current_modules, now, options_.restart);
  if (version != attempts_version_) {  // a new deployment retries everything at once
    failed_commands_.clear();
    attempts_version_ = version;
  }
  auto generation = sync_identities(commands);
  // Commands run group by group (startupOrder); inside a group each module's steps run in
  // order, and different modules of one group run side by side on a few connections.
  for (size_t i = 0; i < commands.size();) {
    size_t j = i;
    bool agent_phase = commands[i].module == "edgeAgent";  // the self-update runs alone, first
    while (j < commands.size() && commands[j].group == commands[i].group &&
           (commands[j].module == "edgeAgent") == agent_phase)
      ++j;
    std::vector<std::vector<const Command*>> chains;
    std::map<std::string, size_t> chain_of;
    for (size_t k = i; k < j; ++k) {
      auto [it, added] = chain_of.try_emplace(commands[k].module, chains.size());
      if (added) chains.emplace_back();
      chains[it->second].push_back(&commands[k]);
    }
    std::vector<std::string> started;
    std::atomic<size_t> next_chain{0};
    auto worker = [&] {
      edge::http::UnixClient client(options_.management_socket);
      for (size_t n; (n = next_chain++) < chains.size();)
        if (run_chain(client, chains[n], deployment, generation, now, result)) {
          std::lock_guard lock(book_mutex_);
          started.push_back(chains[n].front()->module);
        }
    };
    size_t workers = std::min<size_t>(kParallelModules, chains.size());
    std::vector<std::thread> pool;
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (!started.empty() && j < commands.size()) wait_until_up(started);
    i = j;
  }
  save_state();
  result.next_due_ms = next_restart_due(desired, current_modules, options_.restart);
  record_states(current_modules, deployment);
  return result;
}

void Runner::record_states(const std::map<std::string, Current>& current,
                           const Deployment& deployment) {
  auto desired = deployment.all();
  std::map<std::string, ModuleRuntimeState> states;
  for (const auto& [name, c] : current) {
    ModuleRuntimeState s;
    s.name = name;
    RuntimeStatus status = c.edged_status;
    if (auto it = desired.find(name);
        it != desired.end() && it->second.status == DesiredStatus::Running)
      status =
          status_from_policy(status, it->second.restart_policy, c.restart_count, options_.restart);
    s.runtime_status = to_string(status);
    const Json& raw = raw_modules_[name];
    const Json st = raw.value("status", Json::object());
    const Json exit = st.value("exitStatus", Json::object());
    s.exit_code = std::atoi(exit.value("statusCode", "0").c_str());
    s.last_start_time_utc = st.value("startTime", "");
    s.last_exit_time_utc = exit.value("exitTime", "");
    s.status_description = st.value("runtimeStatus", Json::object()).value("description", "");
    if (s.status_description.empty()) s.status_description = s.runtime_status;
    s.restart_count = c.restart_count;
    if (auto it = restarts_.find(name); it != restarts_.end())
      s.last_restart_time_utc = format_time(it->second.last_ms);
    s.image = c.image;
    const Json settings = raw.value("config", Json::object()).value("settings", Json::object());
    if (s.image.empty()) s.image = settings.value("image", "");
    s.image_hash = settings.value("imageHash", "");
    states[name] = s;
  }
  std::lock_guard lock(state_mutex_);
  states_ = std::move(states);
}

std::map<std::string, ModuleRuntimeState> Runner::module_states() const {
  std::lock_guard lock(state_mutex_);
  return states_;
}

}  // namespace agent
