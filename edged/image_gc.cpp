#include "edged/image_gc.h"

#include <ctime>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"

namespace edged {
using edge::Result;
using edge::Status;

Result<std::map<std::string, int64_t>> ImageUse::load() {
  std::map<std::string, int64_t> images;
  auto text = edge::fs::read_file(path_, kMaxImageUseFileSize);
  if (!text) {
    if (text.error().kind == edge::ErrorKind::NotFound) return images;
    return edge::fail(text.error());
  }
  std::istringstream in(*text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto space = line.find(' ');
    std::string id = line.substr(0, space),
                secs = space == std::string::npos ? "" : line.substr(space + 1);
    if (id.empty() || secs.empty() || secs.size() > 18 ||
        secs.find_first_not_of("0123456789") != std::string::npos)
      return edge::internal(path_ + ":" + std::to_string(n) + ": malformed image use entry");
    images[id] = std::stoll(secs);
  }
  return images;
}

Status ImageUse::save(const std::map<std::string, int64_t>& images) {
  std::string text;
  for (const auto& [id, secs] : images) text += id + " " + std::to_string(secs) + "\n";
  return edge::fs::write_atomic(path_, text, 0600);
}

Status ImageUse::record(const std::string& image_id, int64_t now) {
  if (image_id.empty() || image_id.find_first_of(" \n") != std::string::npos)
    return edge::invalid("invalid image id \"" + image_id + "\"");
  std::lock_guard lock(mutex_);
  auto images = EDGE_TRY(load());
  images[image_id] = now;
  return save(images);
}

Result<std::vector<std::string>> ImageUse::take_expired(const std::set<std::string>& in_use,
                                                        int64_t threshold, int64_t now) {
  std::lock_guard lock(mutex_);
  auto images = EDGE_TRY(load());
  std::map<std::string, int64_t> keep;
  std::vector<std::string> expired;
  for (const auto& [id, last_use] : images) {
    if (in_use.contains(id))
      keep[id] = now;  // a crash-looping module must not lose its image
    else if (now - last_use < threshold)
      keep[id] = last_use;
    else
      expired.push_back(id);
  }
  if (auto s = save(keep); !s)
    edge::log::warn("Failed to update " + path_ + ": " + s.error().message);
  return expired;
}

Status pull_and_record(docker::Client& docker, const std::string& image,
                       const std::optional<docker::RegistryAuth>& auth, ImageUse* use) {
  EDGE_TRY_VOID(docker.pull(image, auth));
  if (!use) return {};
  auto info = docker.inspect_image(image);
  if (!info) {
    edge::log::warn("Could not find the id of " + image +
                    " after pulling it: " + info.error().message);
    return {};
  }
  if (auto s = use->record(info->value("Id", ""), std::time(nullptr)); !s)
    edge::log::warn("Failed to record the use of " + image + ": " + s.error().message);
  return {};
}

void record_container_image(docker::Client& docker, const std::string& container, ImageUse* use) {
  if (!use) return;
  auto info = docker.inspect_container(container);
  if (!info) return;
  if (auto s = use->record(info->value("Image", ""), std::time(nullptr)); !s)
    edge::log::warn("Failed to record the image use of " + container + ": " + s.error().message);
}

Result<std::vector<std::string>> ImageGc::run_once(int64_t now) {
  std::set<std::string> in_use;
  // The bootstrap agent image is kept even when no container uses it (upstream's fallback).
  auto bootstrap = docker_.inspect_image(bootstrap_image_);
  if (bootstrap)
    in_use.insert(bootstrap->value("Id", ""));
  else if (bootstrap.error().kind != edge::ErrorKind::NotFound)
    return edge::fail(bootstrap.error());
  // Every container's image is in use, edge module or not: the engine is shared.
  for (const auto& c : EDGE_TRY(docker_.list_containers({}))) in_use.insert(c.value("ImageID", ""));
  auto expired = EDGE_TRY(use_.take_expired(in_use, config_.image_age_cleanup_threshold, now));
  std::vector<std::string> removed;
  for (const auto& id : expired) {
    if (auto s = docker_.remove_image(id, true); !s) {
      edge::log::warn("Could not delete image " + id + ": " + s.error().message);
      continue;
    }
    edge::log::info("Image garbage collection removed " + id);
    removed.push_back(id);
  }
  return removed;
}

int64_t seconds_until_cleanup(int64_t second_of_day_now, int cleanup_minute) {
  int64_t target = int64_t{cleanup_minute} * 60;
  int64_t wait = target - second_of_day_now;
  return wait > 0 ? wait : wait + 86400;
}

void ImageGc::run(StopSignal& stop) {
  if (!config_.enabled) return;
  edge::log::info("Starting image garbage collection task...");
  int64_t extra_days = config_.cleanup_recurrence / 86400 - 1;
  bool first = true;
  while (true) {
    std::time_t t = std::time(nullptr);
    std::tm local{};
    localtime_r(&t, &local);
    int64_t wait = seconds_until_cleanup(local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec,
                                         config_.cleanup_time);
    if (!first) wait += extra_days * 86400;
    first = false;
    if (stop.wait_for(std::chrono::seconds(wait))) return;
    edge::log::info("Image garbage collection starting scheduled run");
    if (auto r = run_once(std::time(nullptr)); !r)
      edge::log::error("Image garbage collection failed: " + r.error().message);
  }
}

}  // namespace edged
