#include "agent/local_source.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "common/fs.h"
#include "common/log.h"

namespace agent {

namespace {
constexpr int kQuietMs = 200;
constexpr int kPollMs = 250;

// mtime, size and inode: changes with every write or replacement of the file.
std::string file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
         std::to_string(st.st_size) + "/" + std::to_string(st.st_ino);
}
}  // namespace

LocalSource::LocalSource(std::string path, std::function<void()> on_change)
    : path_(std::move(path)), on_change_(std::move(on_change)) {
  // Watch and stamp before returning: a change right after construction must not be missed.
  auto slash = path_.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path_.substr(0, slash);
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ >= 0 && ::inotify_add_watch(inotify_fd_, dir.c_str(),
                                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
                                                  IN_MOVED_FROM | IN_MODIFY | IN_ATTRIB) < 0) {
    ::close(inotify_fd_);
    inotify_fd_ = -1;
  }
  if (inotify_fd_ < 0) edge::log::info("Watching " + path_ + " by polling its modification time");
  stamp_ = file_stamp(path_);
  thread_ = std::thread([this] { watch(); });
}

LocalSource::~LocalSource() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
}

std::expected<DesiredDocument, ManifestError> LocalSource::read() const {
  auto text = edge::fs::read_file(path_, kMaxManifestBytes);
  if (!text) {
    if (text.error().kind == edge::ErrorKind::PayloadTooLarge)
      return std::unexpected(
          ManifestError{400, "Agent configuration format is invalid: " + text.error().message});
    return std::unexpected(
        ManifestError{500, "could not read the deployment: " + text.error().message});
  }
  return read_manifest(*text);
}

void LocalSource::watch() {
  auto slash = path_.rfind('/');
  std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  int fd = inotify_fd_;
  // The stamp is compared too: inotify misses changes made through some bind mounts.
  std::string stamp = stamp_;
  bool pending = false;
  auto last_event = std::chrono::steady_clock::now();
  alignas(inotify_event) char buf[4096];
  while (!stop_) {
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, kPollMs) > 0) {
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0) {
          for (char* at = buf; at < buf + n;) {
            auto* e = reinterpret_cast<inotify_event*>(at);
            if (e->len && base == e->name) {
              pending = true;
              last_event = std::chrono::steady_clock::now();
            }
            at += sizeof(inotify_event) + e->len;
          }
        }
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    }
    if (std::string now = file_stamp(path_); now != stamp) {
      stamp = now;
      pending = true;
      last_event = std::chrono::steady_clock::now();
    }
    if (pending &&
        std::chrono::steady_clock::now() - last_event >= std::chrono::milliseconds(kQuietMs)) {
      pending = false;
      on_change_();
    }
  }
}

}  // namespace agent
