// The `iotedge check` / `aziotctl check` machinery: a check has an id and a description
// (upstream's), runs against a shared Context, and resolves to one Outcome. The runner prints
// upstream's text (√ / ‼ / ×) or JSON and counts results for the exit code.
#pragma once
#include <functional>
#include <iosfwd>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "common/http/message.h"

namespace edge::cli::check {

using Json = http::Json;

enum class Kind { Ok, Warning, Ignored, Skipped, SkippedDueTo, Failed, Fatal };

// How a check resolved. `details` is an error chain, outermost message first (upstream's
// anyhow chain: the JSON "details" array and the "caused by:" lines of --verbose).
struct Outcome {
  Kind kind = Kind::Ok;
  std::vector<std::string> details;

  static Outcome ok() { return {Kind::Ok, {}}; }
  static Outcome ignored() { return {Kind::Ignored, {}}; }
  static Outcome skipped() { return {Kind::Skipped, {}}; }
  static Outcome skipped_due_to(std::string reason) { return {Kind::SkippedDueTo, {std::move(reason)}}; }
  static Outcome warning(std::vector<std::string> chain) { return {Kind::Warning, std::move(chain)}; }
  static Outcome failed(std::vector<std::string> chain) { return {Kind::Failed, std::move(chain)}; }
  static Outcome fatal(std::vector<std::string> chain) { return {Kind::Fatal, std::move(chain)}; }
};

struct Options {
  std::string container_engine_config_file = "/etc/docker/daemon.json";
  std::string diagnostics_image_name;
  std::set<std::string> dont_run;
  std::optional<std::string> expected_aziot_edged_version;
  std::optional<std::string> expected_aziot_version;
  std::string aziot_edged = "/usr/libexec/aziot/aziot-edged";
  std::optional<std::string> iothub_hostname;
  std::optional<std::string> proxy_uri;
  std::string ntp_server = "pool.ntp.org:123";
  bool json = false;
  bool verbose = false;
  bool warnings_as_errors = false;
};

// State shared by the checks of one run: what earlier checks learned (configs, which daemons
// answer, the docker host) for the later ones, as upstream's CheckerCache / Check.
struct Context {
  Options options;
  std::string root;  // EDGE_CLI_ROOT prefix for every host path

  std::optional<toml::table> keyd, certd, tpmd, identityd, identityd_prev, edged;
  bool keyd_running = false, certd_running = false, tpmd_running = false,
       identityd_running = false;
  std::map<std::string, std::string> certs;        // id -> PEM read through certd
  std::map<std::string, std::string> private_keys;  // id -> key handle read through keyd

  std::optional<std::string> docker_host;  // "unix:///var/run/docker.sock" once it answered
  std::optional<std::string> docker_version;
  std::optional<std::string> aziot_edged_version;
  std::optional<std::string> iothub_hostname;  // from --iothub-hostname or identityd's config
  std::optional<std::string> parent_hostname;  // identityd's local_gateway_hostname
  std::optional<std::string> proxy_uri;        // --proxy-uri, [agent.env] https_proxy, env

  // A host path under the sandbox root; paths already under it (absolute paths written for
  // daemons running in the sandbox) are kept.
  std::string path(const std::string& p) const {
    return root.empty() || p.starts_with(root + "/") ? p : root + p;
  }
};

// A check body fills `info` (the check's "additional_info" object) as it learns things.
using CheckFn = std::function<Outcome(Context&, Json& info)>;

struct Check {
  std::string id;
  std::string description;
  CheckFn run;
};

struct Section {
  std::string name;
  std::vector<Check> checks;
};

// Runs every section in order (stopping after a Fatal), prints text or JSON to `out`, and
// returns the exit code: 1 if any check raised an error (or a warning with
// --warnings-as-errors), else 0. `top_info` is the JSON's top-level "additional_info"; it
// is built after the checks ran, so it can include what they learned.
int run_checks(Context& ctx, std::vector<Section>& sections, std::ostream& out,
               const std::function<Json(const Context&)>& top_info);

// `iotedge check-list` / `aziotctl check-list` as a table.
void print_list(const std::vector<Section>& sections, std::ostream& out);

}  // namespace edge::cli::check
