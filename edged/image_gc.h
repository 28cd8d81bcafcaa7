// Image garbage collection as upstream: <homedir>/gc/image_use records when edged last used
// each image (pull, module create), one "<image id> <unix seconds>" line per image; once a day
// at cleanup_time, images unused for longer than the threshold are removed, except images of
// existing containers and the bootstrap agent image.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "edged/config.h"
#include "edged/docker.h"
#include "edged/stop_signal.h"

namespace edged {

constexpr size_t kMaxImageUseFileSize = 4 * 1024 * 1024;

class ImageUse {
 public:
  explicit ImageUse(std::string gc_dir) : path_(std::move(gc_dir) + "/image_use") {}
  const std::string& path() const { return path_; }
  // Sets the image's last use to `now` (unix seconds).
  edge::Status record(const std::string& image_id, int64_t now);
  // A missing file is empty; a malformed one is an error (nothing is pruned from it).
  edge::Result<std::map<std::string, int64_t>> load();
  // Returns the recorded images unused for `threshold` seconds and not in `in_use`; the file
  // keeps the others (those in use with their time set to `now`).
  edge::Result<std::vector<std::string>> take_expired(const std::set<std::string>& in_use,
                                                      int64_t threshold, int64_t now);

 private:
  edge::Status save(const std::map<std::string, int64_t>& images);
  std::mutex mutex_;
  std::string path_;
};

// Pulls `image` and records its id (pulls with `auth` as the X-Registry-Auth header).
edge::Status pull_and_record(docker::Client& docker, const std::string& image,
                             const std::optional<docker::RegistryAuth>& auth, ImageUse* use);
// Records the image of a freshly created container.
void record_container_image(docker::Client& docker, const std::string& container, ImageUse* use);

class ImageGc {
 public:
  ImageGc(docker::Client& docker, ImageUse& use, ImageGcConfig config, std::string bootstrap_image)
      : docker_(docker), use_(use), config_(config), bootstrap_image_(std::move(bootstrap_image)) {}
  // One collection; returns the ids removed.
  edge::Result<std::vector<std::string>> run_once(int64_t now);
  // Waits for cleanup_time, collects, then every cleanup_recurrence, until `stop`.
  void run(StopSignal& stop);

 private:
  docker::Client& docker_;
  ImageUse& use_;
  ImageGcConfig config_;
  std::string bootstrap_image_;
};

// Seconds from `minute_of_day_now` (local time, with seconds) to the next `cleanup_minute`.
int64_t seconds_until_cleanup(int64_t second_of_day_now, int cleanup_minute);

}  // namespace edged
