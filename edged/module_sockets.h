// The workload API's sockets: the legacy one ([listen] workload_uri, systemd name
// aziot-edged.workload.socket) and one per module at <homedir>/mnt/<module>.sock (mode 0666),
// created before the module's container starts (the agent bind-mounts it), closed when the
// module stops and deleted when it is removed, as upstream.
#pragma once
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/http/server.h"

namespace edged {

constexpr mode_t kWorkloadSocketMode = 0666;

// Container names the engine accepts ([a-zA-Z0-9][a-zA-Z0-9_.-]*, bounded): only these get a
// socket file, so a name can never leave the mnt directory.
bool valid_module_name(const std::string& name);

class ModuleSockets {
 public:
  ModuleSockets(std::string mnt_dir, edge::http::Handler handler, size_t max_requests_per_uid);
  ~ModuleSockets();

  edge::Status listen_legacy(const edge::uri::Endpoint& endpoint);
  // (Re)creates <mnt>/<module>.sock and serves it; a socket already served is kept.
  edge::Status start(const std::string& module);
  void stop(const std::string& module);    // stops serving; the file goes with the listener
  void remove(const std::string& module);  // stops and deletes the file
  void stop_all();
  std::string path_of(const std::string& module) const { return mnt_dir_ + "/" + module + ".sock"; }
  bool serving(const std::string& module);

 private:
  struct Listener {
    std::unique_ptr<edge::http::Server> server;
    std::thread thread;
  };
  std::unique_ptr<Listener> make_listener();
  static void close_listener(std::unique_ptr<Listener>& l);

  std::string mnt_dir_;
  edge::http::Handler handler_;
  size_t max_requests_;
  std::mutex mutex_;
  std::unique_ptr<Listener> legacy_;
  std::map<std::string, std::unique_ptr<Listener>> modules_;
};

}  // namespace edged
