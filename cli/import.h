// `iotedge config import` (IoT Edge 1.1 config.yaml -> super-config, byte-identical to
// upstream's output) and `config mp` (a super-config from a connection string).
#pragma once
#include <iosfwd>
#include <string>

#include "cli/super_config.h"
#include "common/result.h"

namespace edge::cli {

// The super-config text for an old config.yaml. `old_master_key_path`, when not empty, is the
// libiothsm master encryption key to import.
Result<std::string> import_old_config(const std::string& yaml_text, const std::string& source_name,
                                      const std::string& old_master_key_path);

int run_config_import(const std::string& old_config_file, const std::string& new_config_file,
                      bool force, std::ostream& out, std::ostream& err);

Result<std::string> mp_config(Flavor flavor, const std::string& connection_string);
int run_config_mp(Flavor flavor, const std::string& connection_string,
                  const std::string& out_config_file, bool force, std::ostream& out,
                  std::ostream& err);

}  // namespace edge::cli
