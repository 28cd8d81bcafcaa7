// gzip (RFC 1952) compression of log payloads, as upstream's agent sends them when a logs
// request asks for `encoding: gzip`.
#pragma once
#include <string>
#include <string_view>

#include "common/result.h"

namespace agent::upstream {

// One gzip member holding `data`.
edge::Result<std::string> gzip_compress(std::string_view data);

}  // namespace agent::upstream
