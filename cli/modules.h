// `iotedge list`, `iotedge logs`, `iotedge restart`: the module commands, on top of the
// management API at -H/--host (env IOTEDGE_HOST, default unix:///var/run/iotedge/mgmt.sock).
#pragma once
#include <string>

#include "cli/args.h"

namespace edge::cli {

constexpr char kDefaultManagementUri[] = "unix:///var/run/iotedge/mgmt.sock";

int list_command(const std::string& host, Args& args);
int logs_command(const std::string& host, Args& args);
int restart_command(const std::string& host, Args& args);

// "Up 5 minutes", "Stopped 3 hours ago", "Failed (1) a day ago", as upstream's `list`.
std::string describe_status(const std::string& status, const std::string& start_time,
                            const std::string& exit_time, const std::string& exit_code,
                            long long now);
std::string humanize(long long seconds, bool past);

}  // namespace edge::cli
