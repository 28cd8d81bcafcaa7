// `iotedge support-bundle`: upstream's zip layout (check.json, logs/<module>_log.txt through
// edged's management API, inspect/<module>.json, network/<net>.json, logs/<service>.txt from
// journalctl) plus config/…: the aziot configs with secrets redacted.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cli/bundle/bundle.h"

namespace edge::cli::bundle {

int support_bundle_command(const std::string& host, std::vector<std::string> args);

}  // namespace edge::cli::bundle
