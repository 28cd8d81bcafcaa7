// File helpers: atomic writes with exact modes, bounded reads.
#pragma once
#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.h"

namespace edge::fs {

constexpr size_t kDefaultReadLimit = 4 * 1024 * 1024;

// Writes via a temp file in the same directory, fsync, rename, fsync of the directory.
// The final file has exactly `mode` (umask does not apply). A crash leaves either the old
// file or the new one, never a partial file.
Status write_atomic(const std::string& path, std::string_view data, mode_t mode);
Result<std::string> read_file(const std::string& path, size_t limit = kDefaultReadLimit);
bool exists(const std::string& path);
// Creates the directory (and parents, 0755) if missing; the last component ends up with
// exactly `mode`, whether it was created or already there (umask does not apply).
Status ensure_dir(const std::string& path, mode_t mode);
Status remove_file(const std::string& path);  // a missing file is not an error
// Removes leftover temp files of write_atomic (".<name>.tmp.*") in a directory.
void remove_stale_temp_files(const std::string& dir);

}  // namespace edge::fs
