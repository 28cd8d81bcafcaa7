// aziot-edged: start-up in upstream's order (config, device identity from identityd, the
// container engine and its network, stale modules stopped, modules removed when the device
// changed, $upstream resolved, the Edge CA and the workload API, the management API), then the agent watchdog and image GC until
// SIGTERM, then every module stopped. Exit codes as upstream: 153 bad config, 1 failure,
// 154 reprovisioned (POST /device/reprovision).
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "cli/bundle/bundle.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/daemon.h"
#include "common/fs.h"
#include "common/log.h"
#include "edged/agent_spec.h"
#include "edged/config.h"
#include "edged/device_info.h"
#include "edged/image_gc.h"
#include "edged/management.h"
#include "edged/workload_daemon.h"
#include "edged/startup.h"
#include "edged/stop_signal.h"
#include "edged/watchdog.h"

namespace {
using namespace edge;
using edged::StopSignal;

constexpr int kStopModulesSeconds = 30;
constexpr int kExitReprovisioned = 154;  // upstream's: systemd restarts edged with the new identity
constexpr auto kIdentityRetry = std::chrono::seconds(5);

StopSignal g_stop;
std::atomic<bool> g_stopping{false};  // the same, for the workload side's waits
std::atomic<http::Server*> g_server{nullptr};
std::atomic<bool> g_reprovision{false};  // POST /device/reprovision asked for the shutdown

// Wakes every loop and stops the management API (run() then stops the rest).
void shut_down() {
  g_stopping = true;
  g_stop.stop();
  if (auto* s = g_server.load()) s->stop();
}

// SIGTERM/SIGINT wake every loop and stop the API servers.
void handle_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    log::info(std::string("Received ") + strsignal(sig) + ", shutting down");
    shut_down();
  }).detach();
}

// Upstream's loop: identityd unreachable -> wait; identityd's own error -> reprovision, wait.
std::optional<edged::DeviceInfo> device_identity(edged::IdentityClient& identity,
                                                 const edged::Config& config,
                                                 const std::string& cache_dir) {
  if (config.auto_reprovisioning_mode == "AlwaysOnStartup") {
    std::error_code ignored;
    std::filesystem::remove_all(cache_dir, ignored);
    if (auto s = identity.reprovision(); !s)
      log::warn("Reprovision on startup failed: " + s.error().message);
  }
  while (true) {
    log::info("Obtaining Edge device provisioning data...");
    auto device = identity.device();
    if (device) {
      log::info("Device is " + device->device_id + " on " + device->hub_name);
      return *device;
    }
    log::warn("Failed to obtain device identity: " + device.error().message);
    if (device.error().kind == ErrorKind::Unavailable) {
      log::warn("Identity Service was unreachable. Waiting for Identity Service startup.");
    } else {
      log::info("Requesting device reprovision");
      std::error_code ignored;  // as upstream: a reprovisioned device starts without its cache
      std::filesystem::remove_all(cache_dir, ignored);
      if (auto s = identity.reprovision(); !s)
        log::warn("Failed to reprovision: " + s.error().message);
    }
    if (g_stop.wait_for(kIdentityRetry)) return std::nullopt;
  }
}

std::chrono::milliseconds watchdog_period() {
  // Tests shorten the period; production uses upstream's 60 s.
  if (const char* v = std::getenv("AZIOT_EDGED_WATCHDOG_PERIOD_MS"); v && std::atoi(v) > 0)
    return std::chrono::milliseconds(std::atoi(v));
  return edged::kWatchdogPeriod;
}

// The support bundle's config files: the aziot ones, with edged's as this process reads them.
std::vector<std::pair<std::string, std::string>> bundle_config_files() {
  std::vector<std::pair<std::string, std::string>> files;
  for (auto& f : cli::bundle::aziot_config_files(""))
    if (!f.first.starts_with("config/edged/")) files.push_back(std::move(f));
  auto paths = config::paths_from_env("AZIOT_EDGED_CONFIG", "AZIOT_EDGED_CONFIG_DIR",
                                      "/etc/aziot/edged/config.toml", "/etc/aziot/edged/config.d");
  files.emplace_back("config/edged/config.toml", paths.file);
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(paths.dir, ec))
    if (e.path().extension() == ".toml") names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) files.emplace_back("config/edged/config.d/" + n, paths.dir + "/" + n);
  return files;
}

int run(edged::Config config) {
  std::string homedir = config.homedir;
  for (const char* sub : {"", "/cache", "/mnt", "/gc"})
    if (auto s = fs::ensure_dir(homedir + sub, 0755); !s)
      return daemon::report("create " + homedir + sub, s.error());
  if (char real[PATH_MAX]; ::realpath(homedir.c_str(), real)) homedir = real;
  auto mgmt_endpoint = uri::parse_endpoint(config.listen_management_uri);
  auto identityd = uri::parse_endpoint(config.identityd_uri);

  edged::IdentityClient identity(identityd->value);
  auto device = device_identity(identity, config, homedir + "/cache");
  if (!device) return 0;  // stopped while waiting

  edged::docker::Client engine(config.moby_socket());
  log::info("Initializing module runtime...");
  if (auto s = edged::ensure_network(engine, config.network); !s)
    return daemon::report("initialize module runtime", s.error());
  log::info("Using runtime network id " + config.network.name);

  // The Edge CA and the workload API (upstream: before modules are stopped).
  edged::WorkloadDaemon workload(config.workload, homedir, config.moby_socket());
  if (auto s = workload.start(g_stopping); !s) return daemon::report("start the workload API", s.error());
  if (g_stop.stopped()) return 0;

  // Modules of a previous run may hold stale sockets: start them afresh.
  if (auto s = edged::stop_all_modules(engine, kStopModulesSeconds); !s)
    log::warn("Failed to stop modules on startup: " + s.error().message);
  if (auto s = edged::apply_provisioning_change(engine, homedir + "/cache", *device); !s)
    return daemon::report("detect a device change", s.error());
  edged::resolve_agent_upstream(config.agent, device->gateway_host);

  edged::ImageUse image_use(homedir + "/gc");
  edged::ManagementOptions mgmt_options;
  mgmt_options.docker_socket = config.moby_socket();
  mgmt_options.agent_name = config.agent_name;
  mgmt_options.allow_elevated_docker_permissions = config.allow_elevated_docker_permissions;
  mgmt_options.image_use = &image_use;
  mgmt_options.hooks = workload.hooks();             // per-module workload sockets
  mgmt_options.identityd = &workload.identityd();   // the /identities routes
  mgmt_options.iotedge_host = config.connect_management_uri;
  mgmt_options.bundle_config_files = bundle_config_files();
  mgmt_options.request_reprovision = [] {
    log::info("Edge daemon will reprovision and restart");
    g_reprovision = true;
    shut_down();
  };
  edged::Management mgmt(mgmt_options);
  edged::docker::Client watchdog_engine(config.moby_socket());
  edged::Watchdog watchdog(watchdog_engine, {config, *device, homedir, &identity, &image_use,
                                             mgmt_options.hooks.before_start});
  // The renewal thread uses mgmt and watchdog: stop it before they go away, on every return.
  struct StopWorkloadFirst {
    edged::WorkloadDaemon& w;
    ~StopWorkloadFirst() { w.stop(); }
  } stop_workload_first{workload};
  // After an Edge CA renewal modules restart (the agent last) to get new server certificates.
  workload.set_renewal_hook([&] {
    if (auto s = watchdog.restart_after_renewal(mgmt); !s)
      log::warn("Failed to restart modules after the Edge CA renewal: " + s.error().message);
  });
  http::ServerOptions options;
  options.max_requests_per_uid = config.max_management_requests;
  options.systemd_name = "aziot-edged.mgmt.socket";
  http::Server server([&](http::Request& r) { return mgmt.handle(r); }, options);
  if (auto s = server.listen(*mgmt_endpoint); !s)
    return daemon::report("listen on " + config.listen_management_uri, s.error());
  if (auto s = workload.serve(mgmt); !s) return daemon::report("serve the workload API", s.error());
  g_server = &server;
  if (g_stop.stopped()) server.stop();
  daemon::notify_ready();
  log::info("Management API listening on " + config.listen_management_uri);

  std::atomic<int> exit_code{0};
  std::thread watchdog_thread([&] {
    if (auto s = watchdog.run(g_stop, watchdog_period()); !s) {
      log::error(s.error().message);
      exit_code = 1;
      g_stop.stop();
      server.stop();
    }
  });
  std::thread gc_thread([&] {
    edged::docker::Client own_engine(config.moby_socket());
    edged::ImageGc(own_engine, image_use, config.image_gc, config.agent.image).run(g_stop);
  });

  server.run();
  g_stop.stop();
  g_server = nullptr;
  watchdog_thread.join();
  gc_thread.join();
  workload.stop();
  log::info("Stopping all modules...");
  if (auto s = edged::stop_all_modules(engine, kStopModulesSeconds); !s)
    log::warn("Failed to stop modules on shutdown: " + s.error().message);
  else
    log::info("All modules stopped");
  if (g_reprovision) {
    // As upstream: a reprovisioned device starts without its cache; systemd restarts edged.
    std::error_code ignored;
    std::filesystem::remove_all(homedir + "/cache", ignored);
    if (auto s = identity.reprovision(); s)
      log::info("Successfully reprovisioned");
    else
      log::error("Failed to reprovision: " + s.error().message);
    return kExitReprovisioned;
  }
  return exit_code;
}
}  // namespace

int main(int argc, char** argv) {
  daemon::init_process();
  edge::crypto::init();
  log::init_from_env("AZIOT_LOG");
  if (argc > 1 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::cout << "aziot-edged " << EDGE_VERSION << "\n";
    return 0;
  }
  log::info("Starting Azure IoT Edge Daemon");
  log::info(std::string("Version - ") + EDGE_VERSION);
  auto config = edged::load_config();
  if (!config) return daemon::report("load configuration", config.error(), daemon::kExitBadConfig);
  handle_signals();
  return run(std::move(*config));
}
