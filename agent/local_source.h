// ConfigSource=local: the deployment from LocalConfigPath, watched with inotify (on its folder,
// so an editor's or a script's rename-over-the-file is seen) and re-read after 200 ms of quiet,
// so an update applies without restarting the agent.
#pragma once
#include <atomic>
#include <expected>
#include <functional>
#include <string>
#include <thread>

#include "agent/manifest.h"

namespace agent {

class LocalSource {
 public:
  // `on_change` runs on the watcher's thread after the file changed.
  LocalSource(std::string path, std::function<void()> on_change);
  ~LocalSource();
  LocalSource(const LocalSource&) = delete;
  // Reads and checks the file now: 400 for malformed or oversized text, 500 when unreadable.
  std::expected<DesiredDocument, ManifestError> read() const;

 private:
  void watch();

  std::string path_;
  std::function<void()> on_change_;
  int inotify_fd_ = -1;
  std::string stamp_;  // the file's stamp when the watch began
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agent
