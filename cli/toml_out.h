// An ordered TOML document model and a writer that lays it out the way upstream's Rust `toml`
// serializer does, so generated files (and `config import` output, compared byte for byte)
// look exactly like the ones upstream writes.
#pragma once
#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace edge::cli {

struct Entry;
class Value;
using Array = std::vector<Value>;

// Keys keep insertion order (struct field order upstream); set() replaces in place.
struct Table {
  std::vector<Entry> entries;

  Value* find(std::string_view key);
  const Value* find(std::string_view key) const;
  Value& set(std::string key, Value value);
  bool empty() const { return entries.empty(); }
};

class Value {
 public:
  Value() : data_(Table{}) {}
  Value(std::string s) : data_(std::move(s)) {}
  Value(const char* s) : data_(std::string(s)) {}
  Value(bool b) : data_(b) {}
  Value(int64_t i) : data_(i) {}
  Value(int i) : data_(static_cast<int64_t>(i)) {}
  Value(double d) : data_(d) {}
  Value(Array a) : data_(std::move(a)) {}
  Value(Table t) : data_(std::move(t)) {}

  bool is_table() const { return std::holds_alternative<Table>(data_); }
  bool is_array() const { return std::holds_alternative<Array>(data_); }
  bool is_string() const { return std::holds_alternative<std::string>(data_); }
  // A non-empty array whose elements are all tables: written as [[name]] sections.
  bool is_array_of_tables() const;

  Table& table() { return std::get<Table>(data_); }
  const Table& table() const { return std::get<Table>(data_); }
  Array& array() { return std::get<Array>(data_); }
  const Array& array() const { return std::get<Array>(data_); }
  const std::string& string() const { return std::get<std::string>(data_); }
  const auto& data() const { return data_; }

 private:
  std::variant<bool, int64_t, double, std::string, Array, Table> data_;
};

struct Entry {
  std::string key;
  Value value;
};

Array string_array(const std::vector<std::string>& items);

// Serializes like Rust `toml::to_string`: key/values of a table first, then its sub-tables;
// a table that holds only sub-tables gets no header of its own; empty tables keep theirs;
// one blank line before every header except at the start.
std::string to_toml(const Table& root);
std::string format_key(std::string_view key);
std::string format_string(std::string_view s);

// Converts parsed toml++ data into the ordered model (toml++ keeps keys sorted).
Value from_toml(const toml::node& node);

}  // namespace edge::cli
