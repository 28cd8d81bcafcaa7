// Keeping a long-running daemon's resident memory small.
#pragma once
#include <cstddef>

namespace edge::memory {

// Unmaps from this process the pages of read-only file mappings (program and library code,
// read-only data) that were never written, e.g. the config parser's code after start-up. The
// pages stay in the page cache; whatever the daemon runs next maps them again (a minor fault).
// Mappings with copied-on-write pages (relocated data) are left alone. Returns the KiB released
// from the resident set. Call once start-up is done, before serving.
size_t release_file_pages();

}  // namespace edge::memory
