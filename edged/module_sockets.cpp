#include "edged/module_sockets.h"

#include "common/fs.h"
#include "common/log.h"

namespace edged {

bool valid_module_name(const std::string& name) {
  if (name.empty() || name.size() > 128 || !std::isalnum(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

ModuleSockets::ModuleSockets(std::string mnt_dir, edge::http::Handler handler, size_t max_requests_per_uid)
    : mnt_dir_(std::move(mnt_dir)), handler_(std::move(handler)), max_requests_(max_requests_per_uid) {}

ModuleSockets::~ModuleSockets() {
  stop_all();
  std::lock_guard lock(mutex_);
  close_listener(legacy_);
}

std::unique_ptr<ModuleSockets::Listener> ModuleSockets::make_listener() {
  edge::http::ServerOptions options;
  options.max_requests_per_uid = max_requests_;
  options.socket_mode = kWorkloadSocketMode;
  auto l = std::make_unique<Listener>();
  l->server = std::make_unique<edge::http::Server>(handler_, options);
  return l;
}

void ModuleSockets::close_listener(std::unique_ptr<Listener>& l) {
  if (!l) return;
  l->server->stop();
  if (l->thread.joinable()) l->thread.join();
  l.reset();
}

edge::Status ModuleSockets::listen_legacy(const edge::uri::Endpoint& endpoint) {
  std::lock_guard lock(mutex_);
  close_listener(legacy_);
  auto l = std::make_unique<Listener>();
  edge::http::ServerOptions options;
  options.max_requests_per_uid = max_requests_;
  options.socket_mode = kWorkloadSocketMode;
  options.systemd_name = "aziot-edged.workload.socket";
  l->server = std::make_unique<edge::http::Server>(handler_, options);
  if (endpoint.kind == edge::uri::Endpoint::Kind::Unix) {
    auto slash = endpoint.value.rfind('/');
    if (slash != std::string::npos && slash > 0 && !edge::http::socket_activated())
      EDGE_TRY_VOID(edge::fs::ensure_dir(endpoint.value.substr(0, slash), 0755));
  }
  EDGE_TRY_VOID(l->server->listen(endpoint));
  auto* server = l->server.get();
  l->thread = std::thread([server] { server->run(); });
  legacy_ = std::move(l);
  return {};
}

edge::Status ModuleSockets::start(const std::string& module) {
  if (!valid_module_name(module)) return edge::invalid("invalid module name \"" + module + "\"");
  std::lock_guard lock(mutex_);
  if (modules_.contains(module)) return {};
  EDGE_TRY_VOID(edge::fs::ensure_dir(mnt_dir_, 0755));
  auto l = make_listener();
  EDGE_TRY_VOID(l->server->listen(edge::uri::Endpoint{edge::uri::Endpoint::Kind::Unix, path_of(module)}));
  auto* server = l->server.get();
  l->thread = std::thread([server] { server->run(); });
  modules_[module] = std::move(l);
  edge::log::info("Started workload listener for module " + module);
  return {};
}

void ModuleSockets::stop(const std::string& module) {
  std::unique_ptr<Listener> l;
  {
    std::lock_guard lock(mutex_);
    auto it = modules_.find(module);
    if (it == modules_.end()) return;
    l = std::move(it->second);
    modules_.erase(it);
  }
  close_listener(l);
  edge::log::info("Stopped workload listener for module " + module);
}

void ModuleSockets::remove(const std::string& module) {
  stop(module);
  if (valid_module_name(module)) (void)edge::fs::remove_file(path_of(module));
}

void ModuleSockets::stop_all() {
  std::map<std::string, std::unique_ptr<Listener>> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(modules_);
  }
  for (auto& [name, l] : all) close_listener(l);
}

bool ModuleSockets::serving(const std::string& module) {
  std::lock_guard lock(mutex_);
  return modules_.contains(module);
}

}  // namespace edged
