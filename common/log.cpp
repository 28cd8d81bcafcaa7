#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>

namespace edge::log {
namespace {
std::atomic<int> current{static_cast<int>(Level::Info)};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<Level> parse_level(std::string_view text) {
  text = trim(text);
  if (text == "error") return Level::Error;
  if (text == "warn" || text == "warning") return Level::Warn;
  if (text == "info") return Level::Info;
  if (text == "debug") return Level::Debug;
  if (text == "trace") return Level::Trace;
  return std::nullopt;
}

void init_from_env(const char* var) {
  const char* value = std::getenv(var);
  if (!value) return;
  std::string_view rest(value);
  std::optional<Level> chosen;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    auto item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    auto eq = item.find('=');
    if (eq != std::string_view::npos) item = item.substr(eq + 1);  // module=level: take level
    if (auto l = parse_level(item)) chosen = l;
  }
  if (chosen) set_level(*chosen);
}

void set_level(Level level) { current = static_cast<int>(level); }
bool enabled(Level level) { return static_cast<int>(level) <= current.load(); }

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  static const char* names[] = {"", "", "", "ERR!", "WARN", "", "INFO", "DBUG", "TRCE"};
  int n = static_cast<int>(level);
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line = "<" + std::to_string(n > 7 ? 7 : n) + ">" + stamp + " [" + names[n] + "] ";
  line.append(message);
  line.push_back('\n');
  // One write() per line so concurrent threads do not interleave.
  [[maybe_unused]] auto r = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace edge::log
