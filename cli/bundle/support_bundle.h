// `iotedge support-bundle`: upstream's zip layout (check.json, logs/<module>_log.txt through
// edged's management API, inspect/<module>.json, network/<net>.json, logs/<service>.txt from
// journalctl) plus config/…: the aziot configs with secrets redacted.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace edge::cli::bundle {

// "1 day", "90 minutes", "2h30m", "1d", an RFC 3339 time or a Unix timestamp -> Unix time
// (durations count back from `now`).
Result<long long> parse_since(const std::string& text, long long now);

// A TOML config text with every secret value replaced by "<redacted>": SAS keys (inline
// device_id_pk values, SharedAccessKey= in connection strings), passwords, PKCS#11 PINs.
std::string redact(const std::string& toml_text);

int support_bundle_command(const std::string& host, std::vector<std::string> args);

}  // namespace edge::cli::bundle
