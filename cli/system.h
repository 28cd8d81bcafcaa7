// `iotedge system …` / `aziotctl system …`: the services behind the CLI, driven through
// systemctl and journalctl exactly as upstream does. Tests substitute the binaries through
// EDGE_CLI_SYSTEMCTL / EDGE_CLI_JOURNALCTL and the filesystem root through EDGE_CLI_ROOT.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "common/result.h"

namespace edge::cli {

struct ServiceDefinition {
  std::string service;
  std::vector<std::string> sockets;
};

// The first service is the root one: restart starts it and socket activation does the rest.
std::vector<ServiceDefinition> iotedge_services();
std::vector<ServiceDefinition> identity_services();

std::string root_prefix();  // EDGE_CLI_ROOT, or "" on a real system
bool systemd_running();     // PID 1 is systemd (sd_booted: /run/systemd/system exists)

// Runs argv with stdout/stderr captured; returns the exit code.
int run_captured(const std::vector<std::string>& argv, std::string* out, std::string* err);
// Runs argv with inherited stdio; returns the exit code.
int run_inherited(const std::vector<std::string>& argv);

Status system_stop(const std::vector<ServiceDefinition>& services, std::ostream& out);
Status system_restart(const std::vector<ServiceDefinition>& services, std::ostream& out);
Status system_status(const std::vector<ServiceDefinition>& services, const std::string& program,
                     std::ostream& out);
Status system_logs(const std::vector<ServiceDefinition>& services,
                   const std::vector<std::string>& journalctl_args);
Status system_set_log_level(const std::vector<ServiceDefinition>& services,
                            const std::string& level, const std::string& program,
                            std::ostream& out);
// Asks identityd to reprovision the device, then restarts aziot-edged.
Status system_reprovision(std::ostream& out);

}  // namespace edge::cli
