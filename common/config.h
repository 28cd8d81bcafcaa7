// Config loading as upstream: a base TOML file plus every *.toml directly in a drop-in
// directory, in sorted order; tables merge recursively, arrays concatenate, scalars replace.
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace edge::config {

constexpr size_t kMaxConfigFileSize = 1024 * 1024;

struct Paths {
  std::string file;
  std::string dir;
};
// `file_var` / `dir_var` (e.g. AZIOT_KEYD_CONFIG, AZIOT_KEYD_CONFIG_DIR) override the defaults.
Paths paths_from_env(const char* file_var, const char* dir_var, std::string default_file,
                     std::string default_dir);

// A missing base file is an empty table; a missing directory has no drop-ins.
Result<toml::table> load(const Paths& paths);
Result<toml::table> parse(std::string_view text, const std::string& source_name);
void merge(toml::table& into, toml::table&& from);

// "file:line:col" of a node, or "" when unknown.
std::string where(const toml::node& node);

// Typed reads of one table; errors name the file, line and the full key path.
class Reader {
 public:
  Reader(const toml::table& table, std::string path = "") : table_(table), path_(std::move(path)) {}

  bool has(std::string_view key) const { return table_.contains(key); }
  Result<std::optional<std::string>> opt_string(std::string_view key) const;
  Result<std::string> string(std::string_view key) const;
  Result<std::optional<int64_t>> opt_int(std::string_view key, int64_t min, int64_t max) const;
  Result<std::optional<bool>> opt_bool(std::string_view key) const;
  Result<std::optional<std::vector<std::string>>> opt_string_array(std::string_view key) const;
  Result<const toml::table*> opt_table(std::string_view key) const;
  Result<const toml::array*> opt_array(std::string_view key) const;

  std::string key_path(std::string_view key) const;
  std::unexpected<Error> error_at(std::string_view key, const std::string& what) const;
  const toml::table& table() const { return table_; }

 private:
  const toml::table& table_;
  std::string path_;
};

}  // namespace edge::config
