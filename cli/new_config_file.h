// Shared by `config import` and `config mp`: both write a new /etc/aziot/config.toml and
// refuse to replace one without --force.
#pragma once
#include <sys/stat.h>

#include <ostream>
#include <string>

#include "cli/super_config.h"

namespace edge::cli {

// Upstream's message when the target exists and --force was not given.
inline std::string already_configured(const std::string& file, const std::string& command,
                                      Flavor flavor) {
  bool edge = flavor == Flavor::Iotedge;
  std::string product = edge ? "Azure IoT Edge" : "Azure IoT Identity Service";
  std::string tool = edge ? "iotedge" : "aziotctl";
  return "File " + file + " already exists. " + product +
         " has already been configured.\n\nTo have the configuration take effect, run:\n\n    "
         "sudo " +
         tool + " config apply\n\nTo reconfigure " + (edge ? "IoT Edge" : "IoT Identity Service") +
         ", run:\n\n    sudo " + tool + " config " + command + " --force\n";
}

// Prints upstream's "Command failed: ..." line; returns the exit code 1.
inline int failed(std::ostream& err, const std::string& message) {
  err << "Command failed: " << message << "\n";
  return 1;
}

// Whether anything (file, directory, link) is at `path`.
inline bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace edge::cli
