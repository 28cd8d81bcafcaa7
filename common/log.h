// Logging to stderr with syslog "<N>" level prefixes (journald reads them).
// Library code logs at debug at most; daemons log once where they handle an error.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace edge::log {

enum class Level { Error = 3, Warn = 4, Info = 6, Debug = 7, Trace = 8 };

// Reads the level from an env var holding "error|warn|info|debug|trace" or RUST_LOG-style
// directives ("aziot=debug,warn": the last bare level wins). Unset or unparsable: info.
void init_from_env(const char* var);
void set_level(Level level);
bool enabled(Level level);
std::optional<Level> parse_level(std::string_view text);
void write(Level level, std::string_view message);

inline void error(std::string_view m) { write(Level::Error, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void debug(std::string_view m) {
  if (enabled(Level::Debug)) write(Level::Debug, m);
}

}  // namespace edge::log
