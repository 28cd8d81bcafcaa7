#include "identityd/watcher.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

#include "common/log.h"

namespace identityd {

std::string config_signature(const edge::config::Paths& paths) {
  auto entry = [](const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return path + ":-;";
    return path + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + ";";
  };
  std::string sig = entry(paths.file);
  std::vector<std::string> names;
  if (DIR* d = ::opendir(paths.dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 5 && n.ends_with(".toml")) names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (const auto& n : names) sig += entry(paths.dir + "/" + n);
  return sig;
}

ConfigWatcher::ConfigWatcher(edge::config::Paths paths, std::function<void(Config)> on_change,
                             std::chrono::milliseconds period)
    : paths_(std::move(paths)), on_change_(std::move(on_change)), period_(period) {
  thread_ = std::thread([this] { run(); });
}

ConfigWatcher::~ConfigWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ConfigWatcher::run() {
  std::string applied = config_signature(paths_);
  std::string pending;
  auto sleep = [this] {
    for (auto waited = std::chrono::milliseconds(0); waited < period_ && !stop_;
         waited += std::chrono::milliseconds(100))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  while (!stop_) {
    sleep();
    if (stop_) break;
    std::string now = config_signature(paths_);
    if (now == applied) {
      pending.clear();
      continue;
    }
    if (now != pending) {  // debounce: act once the files stopped changing for a period
      pending = now;
      continue;
    }
    applied = now;
    pending.clear();
    auto table = edge::config::load(paths_);
    auto config =
        table ? parse_config_table(*table) : Result<Config>(std::unexpected(table.error()));
    if (!config) {
      edge::log::warn("Ignoring the changed configuration: " + config.error().message);
      continue;
    }
    for (const auto& w : config->warnings) edge::log::warn(w);
    on_change_(std::move(*config));
  }
}

}  // namespace identityd
