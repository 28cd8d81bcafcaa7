#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace edge::fs {
namespace {
std::string errno_text(int err) { return std::strerror(err); }

std::string dirname_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

Status write_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string dir = dirname_of(path);
  std::string base = path.substr(path.rfind('/') + 1);
  std::random_device rd;
  std::string tmp = dir + "/." + base + ".tmp." + std::to_string(rd());
  {
    Fd f;
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (f.fd < 0) return internal("could not create " + tmp + ": " + errno_text(errno));
    auto cleanup_fail = [&](const std::string& what) {
      int err = errno;
      ::unlink(tmp.c_str());
      return internal(what + " " + tmp + ": " + errno_text(err));
    };
    if (::fchmod(f.fd, mode) != 0) return cleanup_fail("could not chmod");
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(f.fd, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return cleanup_fail("could not write");
      }
      off += static_cast<size_t>(n);
    }
    if (::fsync(f.fd) != 0) return cleanup_fail("could not fsync");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return internal("could not rename to " + path + ": " + errno_text(err));
  }
  Fd d;
  d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) ::fsync(d.fd);
  return {};
}

Result<std::string> read_file(const std::string& path, size_t limit) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    int err = errno;
    return fail(err == ENOENT ? ErrorKind::NotFound : ErrorKind::Internal,
                "could not read " + path + ": " + errno_text(err));
  }
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return internal("could not read " + path + ": " + errno_text(errno));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > limit)
      return fail(ErrorKind::PayloadTooLarge,
                  "file " + path + " is larger than " + std::to_string(limit) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

Status ensure_dir(const std::string& path, mode_t mode) {
  if (path.empty()) return invalid("empty directory path");
  for (size_t pos = 1;; ++pos) {
    pos = path.find('/', pos);
    std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), pos == std::string::npos ? mode : 0755) != 0 && errno != EEXIST)
      return internal("could not create directory " + part + ": " + errno_text(errno));
    if (pos == std::string::npos) break;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return internal(path + " is not a directory");
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), mode) != 0)
    return internal("could not set the mode of " + path + ": " + errno_text(errno));
  return {};
}

Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    return internal("could not remove " + path + ": " + errno_text(errno));
  return {};
}

void remove_stale_temp_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos)
      ::unlinkat(::dirfd(d), name.c_str(), 0);
  }
  ::closedir(d);
}

}  // namespace edge::fs
