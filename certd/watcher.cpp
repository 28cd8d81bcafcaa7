#include "certd/watcher.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <vector>

namespace certd {
namespace {
constexpr std::chrono::milliseconds kPollInterval{1000};

std::string stat_text(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + ":-\n";
  return path + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + "\n";
}
}  // namespace

ConfigWatcher::ConfigWatcher(edge::config::Paths paths, std::chrono::milliseconds debounce,
                             std::function<void()> on_change)
    : paths_(std::move(paths)), debounce_(debounce), on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { run(); });
}

ConfigWatcher::~ConfigWatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::string ConfigWatcher::fingerprint() const {
  std::vector<std::string> dropins;
  if (DIR* d = ::opendir(paths_.dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.ends_with(".toml")) dropins.push_back(name);
    }
    ::closedir(d);
  }
  std::sort(dropins.begin(), dropins.end());
  std::string out = stat_text(paths_.file);
  for (const auto& name : dropins) out += stat_text(paths_.dir + "/" + name);
  return out;
}

void ConfigWatcher::run() {
  std::string last = fingerprint();
  bool pending = false;
  auto changed_at = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, kPollInterval, [this] { return stopping_; })) {
    lock.unlock();
    std::string now = fingerprint();
    if (now != last) {
      last = std::move(now);
      pending = true;
      changed_at = std::chrono::steady_clock::now();
    } else if (pending && std::chrono::steady_clock::now() - changed_at >= debounce_) {
      pending = false;
      on_change_();
    }
    lock.lock();
  }
}

}  // namespace certd
