#include "common/config.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "common/fs.h"

namespace edge::config {

Paths paths_from_env(const char* file_var, const char* dir_var, std::string default_file,
                     std::string default_dir) {
  Paths p{std::move(default_file), std::move(default_dir)};
  if (const char* v = std::getenv(file_var); v && *v) p.file = v;
  if (const char* v = std::getenv(dir_var); v && *v) p.dir = v;
  return p;
}

Result<toml::table> parse(std::string_view text, const std::string& source_name) {
  try {
    return toml::parse(text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return invalid("could not parse " + source_name + ":" + std::to_string(b.line) + ":" +
                   std::to_string(b.column) + ": " + std::string(e.description()));
  }
}

void merge(toml::table& into, toml::table&& from) {
  // Nodes are moved, not copied: toml++ keeps a node's file and line only across moves, and
  // errors must name the drop-in file a value came from.
  for (auto& [key, value] : from) {
    auto* existing = into.get(key);
    if (existing && existing->is_table() && value.is_table()) {
      merge(*existing->as_table(), std::move(*value.as_table()));
    } else if (existing && existing->is_array() && value.is_array()) {
      for (auto& item : *value.as_array()) existing->as_array()->push_back(std::move(item));
    } else {
      into.insert_or_assign(key, std::move(value));
    }
  }
}

Result<toml::table> load(const Paths& paths) {
  toml::table merged;
  auto base = fs::read_file(paths.file, kMaxConfigFileSize);
  if (base) {
    merged = EDGE_TRY(parse(*base, paths.file));
  } else if (base.error().kind != ErrorKind::NotFound) {
    return fail(base.error());
  }
  std::vector<std::string> dropins;
  if (DIR* d = ::opendir(paths.dir.c_str())) {
    while (auto* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.size() <= 5 || name.substr(name.size() - 5) != ".toml") continue;
      std::string full = paths.dir + "/" + name;
      struct stat st {};
      if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) dropins.push_back(full);
    }
    ::closedir(d);
  }
  std::sort(dropins.begin(), dropins.end());
  for (const auto& path : dropins) {
    auto text = EDGE_TRY(fs::read_file(path, kMaxConfigFileSize));
    auto table = EDGE_TRY(parse(text, path));
    merge(merged, std::move(table));
  }
  return merged;
}

std::string where(const toml::node& node) {
  const auto& src = node.source();
  if (!src.path) return "";
  return *src.path + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

namespace {
std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date/time";
  }
}
}  // namespace

std::string Reader::key_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

std::unexpected<Error> Reader::error_at(std::string_view key, const std::string& what) const {
  std::string loc;
  if (const auto* n = table_.get(key)) loc = where(*n);
  if (loc.empty()) loc = where(table_);
  return invalid("invalid config" + (loc.empty() ? std::string() : " at " + loc) + ": key \"" +
                 key_path(key) + "\": " + what);
}

Result<std::optional<std::string>> Reader::opt_string(std::string_view key) const {
  const auto* n = table_.get(key);
  if (!n) return std::optional<std::string>{};
  if (!n->is_string()) return error_at(key, "expected a string, found " + type_name(*n));
  return std::optional<std::string>{n->as_string()->get()};
}

Result<std::string> Reader::string(std::string_view key) const {
  auto v = EDGE_TRY(opt_string(key));
  if (!v) return error_at(key, "missing required key");
  return *v;
}

Result<std::optional<int64_t>> Reader::opt_int(std::string_view key, int64_t min,
                                               int64_t max) const {
  const auto* n = table_.get(key);
  if (!n) return std::optional<int64_t>{};
  if (!n->is_integer()) return error_at(key, "expected an integer, found " + type_name(*n));
  int64_t v = n->as_integer()->get();
  if (v < min || v > max)
    return error_at(key, "value " + std::to_string(v) + " is out of range " + std::to_string(min) +
                             ".." + std::to_string(max));
  return std::optional<int64_t>{v};
}

Result<std::optional<bool>> Reader::opt_bool(std::string_view key) const {
  const auto* n = table_.get(key);
  if (!n) return std::optional<bool>{};
  if (!n->is_boolean()) return error_at(key, "expected a boolean, found " + type_name(*n));
  return std::optional<bool>{n->as_boolean()->get()};
}

Result<std::optional<std::vector<std::string>>> Reader::opt_string_array(
    std::string_view key) const {
  const auto* n = table_.get(key);
  if (!n) return std::optional<std::vector<std::string>>{};
  if (!n->is_array()) return error_at(key, "expected an array, found " + type_name(*n));
  std::vector<std::string> out;
  for (const auto& item : *n->as_array()) {
    if (!item.is_string()) return error_at(key, "expected an array of strings");
    out.push_back(item.as_string()->get());
  }
  return std::optional<std::vector<std::string>>{std::move(out)};
}

Result<const toml::table*> Reader::opt_table(std::string_view key) const {
  const auto* n = table_.get(key);
  if (!n) return static_cast<const toml::table*>(nullptr);
  if (!n->is_table()) return error_at(key, "expected a table, found " + type_name(*n));
  return n->as_table();
}

Result<const toml::array*> Reader::opt_array(std::string_view key) const {
  const auto* n = table_.get(key);
  if (!n) return static_cast<const toml::array*>(nullptr);
  if (!n->is_array()) return error_at(key, "expected an array, found " + type_name(*n));
  return n->as_array();
}

}  // namespace edge::config
