#include "cli/toml_out.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace edge::cli {

Value* Table::find(std::string_view key) {
  for (auto& e : entries)
    if (e.key == key) return &e.value;
  return nullptr;
}

const Value* Table::find(std::string_view key) const {
  for (const auto& e : entries)
    if (e.key == key) return &e.value;
  return nullptr;
}

Value& Table::set(std::string key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  entries.push_back(Entry{std::move(key), std::move(value)});
  return entries.back().value;
}

bool Value::is_array_of_tables() const {
  if (!is_array() || array().empty()) return false;
  for (const auto& v : array())
    if (!v.is_table()) return false;
  return true;
}

Array string_array(const std::vector<std::string>& items) {
  Array out;
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

namespace {

bool is_bare_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string basic_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, end);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string inline_value(const Value& v);

std::string inline_table(const Table& t) {
  if (t.empty()) return "{}";
  std::string out = "{ ";
  bool first = true;
  for (const auto& e : t.entries) {
    if (!first) out += ", ";
    first = false;
    out += format_key(e.key) + " = " + inline_value(e.value);
  }
  return out + " }";
}

std::string inline_value(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          return std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_float(x);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return format_string(x);
        } else if constexpr (std::is_same_v<T, Array>) {
          std::string out = "[";
          for (size_t i = 0; i < x.size(); ++i) {
            if (i) out += ", ";
            out += inline_value(x[i]);
          }
          return out + "]";
        } else {
          return inline_table(x);
        }
      },
      v.data());
}

bool is_section(const Value& v) { return v.is_table() || v.is_array_of_tables(); }

class Writer {
 public:
  std::string out;

  void body(const std::string& path, const Table& t) {
    for (const auto& e : t.entries)
      if (!is_section(e.value)) out += format_key(e.key) + " = " + inline_value(e.value) + "\n";
    for (const auto& e : t.entries) {
      if (!is_section(e.value)) continue;
      std::string child = path.empty() ? format_key(e.key) : path + "." + format_key(e.key);
      if (e.value.is_table()) {
        table(child, e.value.table());
      } else {
        for (const auto& item : e.value.array()) {
          header("[[" + child + "]]");
          body(child, item.table());
        }
      }
    }
  }

 private:
  void table(const std::string& path, const Table& t) {
    bool has_values = false;
    for (const auto& e : t.entries) has_values |= !is_section(e.value);
    if (has_values || t.empty()) header("[" + path + "]");
    body(path, t);
  }

  void header(const std::string& h) {
    if (!out.empty()) out += "\n";
    out += h + "\n";
  }
};

}  // namespace

std::string format_key(std::string_view key) {
  return is_bare_key(key) ? std::string(key) : basic_string(key);
}

std::string format_string(std::string_view s) {
  // Like toml_edit: a literal '...' string when it spares escaping backslashes.
  bool has_backslash = s.find('\\') != std::string_view::npos;
  bool literal_ok = has_backslash && s.find('\'') == std::string_view::npos;
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) literal_ok = false;
  if (literal_ok) return "'" + std::string(s) + "'";
  return basic_string(s);
}

std::string to_toml(const Table& root) {
  Writer w;
  w.body("", root);
  return w.out;
}

Value from_toml(const toml::node& node) {
  if (const auto* t = node.as_table()) {
    Table out;
    for (const auto& [k, v] : *t) out.set(std::string(k.str()), from_toml(v));
    return out;
  }
  if (const auto* a = node.as_array()) {
    Array out;
    for (const auto& item : *a) out.push_back(from_toml(item));
    return out;
  }
  if (const auto* s = node.as_string()) return Value(s->get());
  if (const auto* i = node.as_integer()) return Value(i->get());
  if (const auto* f = node.as_floating_point()) return Value(f->get());
  if (const auto* b = node.as_boolean()) return Value(b->get());
  // Dates and times have no use in these configs; keep their TOML text as a string.
  std::ostringstream ss;
  node.visit([&](const auto& v) { ss << v; });
  return Value(ss.str());
}

}  // namespace edge::cli
