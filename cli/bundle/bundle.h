// The support bundle's layout, shared by `iotedge support-bundle` and edged's
// GET /systeminfo/supportbundle (upstream's support-bundle crate serves both): check.json,
// logs/<module>_log.txt, inspect/<module>.json, network/<net>.json, logs/<unit>.txt from
// journalctl, and config/… (the aziot configs, secrets redacted). Where the pieces come from
// differs: the CLI asks edged's management API and the docker CLI, edged asks the engine.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace edge::cli::bundle {

// "1 day", "90 minutes", "2h30m", "1d", an RFC 3339 time or a Unix timestamp -> Unix time
// (durations count back from `now`).
Result<long long> parse_since(const std::string& text, long long now);

// A TOML config text with every secret value replaced by "<redacted>": SAS keys (inline
// device_id_pk values, SharedAccessKey= in connection strings), passwords, PKCS#11 PINs.
std::string redact(const std::string& toml_text);

// The output of an inspect or a log command, named as upstream: <name>.json / .txt when it
// worked, <name>_err.json / _err.txt with the error when it failed, <name>_err_docker.txt
// when the tool could not run at all.
struct Captured {
  enum class Kind { Ok, Failed, NotRun } kind = Kind::Ok;
  std::string text;
};

struct BundleOptions {
  long long since = 0;
  std::optional<long long> until;
  bool edge_runtime_only = false;  // only edgeAgent and edgeHub
  std::optional<std::string> iothub_hostname;
  std::string journalctl = "journalctl";
  // (zip entry, file) pairs of config files to add redacted; unreadable files are skipped.
  std::vector<std::pair<std::string, std::string>> config_files;
};

class Sources {
 public:
  virtual ~Sources() = default;
  // `iotedge check -o json`: its stdout then stderr.
  virtual std::string check(const std::optional<std::string>& iothub_hostname) = 0;
  virtual std::vector<std::string> modules() = 0;
  // A module's log text (stream frames removed); errors are written into the text.
  virtual std::string module_logs(const std::string& module, long long since,
                                  std::optional<long long> until) = 0;
  virtual Captured inspect_module(const std::string& module) = 0;
  virtual std::vector<std::string> networks() = 0;
  virtual Captured inspect_network(const std::string& network) = 0;
};

using Say = std::function<void(const std::string&)>;  // progress lines

// The zip archive.
Result<std::string> make_bundle(const BundleOptions& options, Sources& sources, const Say& say);

// The config files of the identity services and edged under `root` ("" on a real system):
// /etc/aziot/config.toml, /etc/aziot/<daemon>/config.toml and config.d/*.toml.
std::vector<std::pair<std::string, std::string>> aziot_config_files(const std::string& root);

// Removes Docker's 8-byte stream frame headers (a TTY container's raw text passes as is).
class FrameText {
 public:
  void feed(std::string_view piece);
  std::string text;

 private:
  std::string pending_;
  bool raw_ = false;
};

// Runs argv (PATH lookup), capturing stdout and stderr (each bounded); kills it after
// `timeout`. Returns the exit code, 128+signal, or -1 when it could not start (127: exec failed).
int run_command(const std::vector<std::string>& argv, std::string* out, std::string* err,
                std::chrono::seconds timeout = std::chrono::seconds(300));

}  // namespace edge::cli::bundle
