// The check lists: the identity service's (aziotctl), edged's built-in ones and ours.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cli/check/framework.h"
#include "cli/check/util.h"

namespace edge::cli::check {

// "Configuration checks" and "Connectivity checks" of `aziotctl check`; `program` names the
// CLI in messages ("iotedge" / "aziotctl").
std::vector<Section> identity_sections(const std::string& program);
// edged's "Configuration checks" and "Connectivity checks" (upstream's built-in checks),
// followed by our additions.
std::vector<Section> edged_sections();

// Upstream's check_last_modified for the given services' 00-super.toml.
Outcome check_last_modified(const Context& ctx, const std::vector<std::string>& services,
                            const std::string& program);
std::string hostname_rfc1035_message(const std::string& prefix, const std::string& hostname);
std::string join(const std::vector<std::string>& parts, const std::string& sep);

// The latest released version of `component` with the same major.minor as `actual`, from
// https://aka.ms/azure-iotedge-latest-versions (through `proxy` when set).
Result<std::string> latest_version(const std::string& component, const std::string& actual,
                                   const std::optional<std::string>& proxy);
Outcome failed_from(const Error& e);

// Our checks upstream lacks (Edge CA expiry, edge hub server cert vs hostname).
std::vector<Check> extra_checks();
// https_proxy in a service's environment: `systemctl show` under systemd, else its unit
// files and drop-ins, else the running process's environment.
std::optional<std::string> service_proxy(const Context& ctx, const std::string& service);
// ExtraHosts of the agent's createOptions in edged's config.
std::vector<std::string> agent_extra_hosts(const toml::table& edged);
// A variable of the running edge agent container's environment.
std::optional<std::string> running_agent_env(const Context& ctx, const std::string& name);

// Parses argv of `iotedge check` / `aziotctl check` and runs them; the exit code.
int check_command(bool iotedge, std::vector<std::string> args);
int check_list_command(bool iotedge);

}  // namespace edge::cli::check
