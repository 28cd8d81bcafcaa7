// Modules as the management API sees them: the agent's ModuleSpec turned into a Docker
// create body, and a container turned back into ModuleDetails, with upstream's rules.
#pragma once
#include <optional>
#include <string>

#include "edged/docker.h"

namespace edged {

using edge::Result;
using edge::http::Json;

constexpr char kOwnerLabel[] = "net.azure-devices.edge.owner";
constexpr char kOwner[] = "Microsoft.Azure.Devices.Edge.Agent";
constexpr char kOriginalImageLabel[] = "net.azure-devices.edge.original-image";
constexpr size_t kMaxCreateOptionsSize = 512 * 1024;

enum class PullPolicy { OnCreate, Never };

struct ModuleSpec {
  std::string name;
  std::string image;
  Json create_options = Json::object();
  std::vector<std::pair<std::string, std::string>> env;
  PullPolicy pull_policy = PullPolicy::OnCreate;
  std::optional<docker::RegistryAuth> auth;
};

// Validates a ModuleSpec body: type "docker", a non-empty valid image, object createOptions
// (bounded), env without duplicate keys. Errors are InvalidParameter (400).
Result<ModuleSpec> parse_module_spec(const Json& body);
// The Docker create body: createOptions + Image + merged Env (createOptions' entry wins on a
// duplicate key; sorted by key) + owner and original-image labels.
Json create_body(const ModuleSpec& spec);
// The label that selects edged's containers: the owner label, or AZIOT_EDGED_SCOPE_LABEL
// ("key=value") instead when set, so test runs sharing one engine (whose agents reconcile every
// owner-labelled container) only ever touch their own containers.
std::vector<std::string> module_filter();
// Puts the scope label (when set) on a create body.
void add_scope_label(Json& create_body);
// ModuleDetails from `docker inspect`.
Json module_details(const Json& inspect);
// "running" | "stopped" | "failed" | "dead" | "unknown" from Docker's State.
std::string runtime_status(const Json& state);

// Upstream's `since`/`until`: RFC 3339, unix seconds, or a duration before now ("1d",
// "90m", "2 days 3 hours"). Returns unix seconds.
Result<long long> parse_since(const std::string& text, long long now);

}  // namespace edged
