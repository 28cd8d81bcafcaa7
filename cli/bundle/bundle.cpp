#include "cli/bundle/bundle.h"

#include <dirent.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include "cli/bundle/zip_writer.h"

namespace edge::cli::bundle {
namespace {

constexpr size_t kMaxConfigFile = 4 * 1024 * 1024;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string journal_time(long long t) {
  std::time_t tt = static_cast<std::time_t>(t);
  struct tm tm {};
  localtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%F %T", &tm);
  return buf;
}

std::optional<std::string> read_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > kMaxConfigFile) return std::nullopt;
  return s.str();
}

Status add_captured(ZipWriter& zip, const std::string& dir, const std::string& name,
                    const Captured& c) {
  switch (c.kind) {
    case Captured::Kind::Ok: return zip.add(dir + "/" + name + ".json", c.text);
    case Captured::Kind::Failed: return zip.add(dir + "/" + name + "_err.json", c.text);
    case Captured::Kind::NotRun: return zip.add(dir + "/" + name + "_err_docker.txt", c.text);
  }
  return {};
}

// journalctl -a -u <unit> -S <since> [-U <until>] --no-pager, as upstream.
Status add_system_log(ZipWriter& zip, const BundleOptions& o, const std::string& unit) {
  std::vector<std::string> cmd{o.journalctl, "-a", "-u", unit, "-S", journal_time(o.since)};
  if (o.until) {
    cmd.push_back("-U");
    cmd.push_back(journal_time(*o.until));
  }
  cmd.push_back("--no-pager");
  std::string out, err;
  int code = run_command(cmd, &out, &err);
  if (code == 0) return zip.add("logs/" + unit + ".txt", out);
  return zip.add("logs/" + unit + "_err.txt", code < 0 ? "Could not run journalctl" : err);
}

}  // namespace

Result<long long> parse_since(const std::string& text, long long now) {
  const std::string t = trim(text);
  if (t.empty()) return invalid("empty time");
  if (std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); })) {
    try {
      return std::stoll(t);
    } catch (const std::exception&) {
      return invalid("timestamp out of range: " + t);
    }
  }
  struct tm tm {};
  if (const char* end = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
    long long base = static_cast<long long>(timegm(&tm));
    std::string rest = end;
    if (!rest.empty() && rest.front() == '.') rest.erase(0, rest.find_first_not_of("0123456789", 1));
    if (rest.empty() || rest == "Z") return base;
    if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
      long long off = std::stoll(rest.substr(1, 2)) * 3600 + std::stoll(rest.substr(4, 2)) * 60;
      return rest[0] == '+' ? base - off : base + off;
    }
    return invalid("invalid time zone in '" + t + "'");
  }
  // A humantime-style duration: numbers with units, spaces optional.
  static const std::regex part(R"(\s*(\d+)\s*([a-zA-Z]+)\s*)");
  long long seconds = 0;
  auto begin = std::sregex_iterator(t.begin(), t.end(), part);
  size_t consumed = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    if (static_cast<size_t>(it->position()) != consumed) return invalid("invalid duration '" + t + "'");
    consumed += static_cast<size_t>(it->length());
    long long n = std::stoll((*it)[1]);
    std::string unit = (*it)[2];
    std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
    long long mult;
    if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" || unit == "seconds") mult = 1;
    else if (unit == "m" || unit == "min" || unit == "mins" || unit == "minute" || unit == "minutes") mult = 60;
    else if (unit == "h" || unit == "hr" || unit == "hrs" || unit == "hour" || unit == "hours") mult = 3600;
    else if (unit == "d" || unit == "day" || unit == "days") mult = 86400;
    else if (unit == "w" || unit == "week" || unit == "weeks") mult = 7 * 86400;
    else return invalid("unknown time unit '" + unit + "' in '" + t + "'");
    if (n > 100LL * 365 * 86400) return invalid("duration too long: '" + t + "'");
    seconds += n * mult;
  }
  if (consumed != t.size() || consumed == 0) return invalid("invalid duration '" + t + "'");
  return now - seconds;
}

std::string redact(const std::string& text) {
  static const std::regex secret_value(
      R"(\b(value|password|pin|user_pin|symmetric_key|secret|shared_access_key)(\s*=\s*)("[^"]*"|'[^']*'))",
      std::regex::icase);
  static const std::regex sas(R"((SharedAccessKey=)[^;"']*)", std::regex::icase);
  static const std::regex pin(R"((pin-value=)[^;&"']*)", std::regex::icase);
  std::string r = std::regex_replace(text, secret_value, "$1$2\"<redacted>\"");
  r = std::regex_replace(r, sas, "$1<redacted>");
  return std::regex_replace(r, pin, "$1<redacted>");
}

std::vector<std::pair<std::string, std::string>> aziot_config_files(const std::string& root) {
  std::vector<std::pair<std::string, std::string>> files{
      {"config/config.toml", root + "/etc/aziot/config.toml"}};
  for (std::string d : {"keyd", "certd", "identityd", "tpmd", "edged"}) {
    files.emplace_back("config/" + d + "/config.toml", root + "/etc/aziot/" + d + "/config.toml");
    const std::string dir = root + "/etc/aziot/" + d + "/config.d";
    std::vector<std::string> names;
    if (DIR* h = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(h))
        if (std::string(e->d_name).ends_with(".toml")) names.push_back(e->d_name);
      ::closedir(h);
    }
    std::sort(names.begin(), names.end());
    for (const auto& f : names) files.emplace_back("config/" + d + "/config.d/" + f, dir + "/" + f);
  }
  return files;
}

void FrameText::feed(std::string_view piece) {
  if (raw_) {
    text.append(piece);
    return;
  }
  pending_.append(piece);
  while (pending_.size() >= 8) {
    auto b = [&](size_t i) { return static_cast<unsigned char>(pending_[i]); };
    if (b(0) > 2 || b(1) || b(2) || b(3)) {  // a TTY container: raw text
      raw_ = true;
      text += pending_;
      pending_.clear();
      return;
    }
    size_t len = size_t{b(4)} << 24 | size_t{b(5)} << 16 | size_t{b(6)} << 8 | size_t{b(7)};
    if (pending_.size() < 8 + len) return;
    text.append(pending_, 8, len);
    pending_.erase(0, 8 + len);
  }
}

Result<std::string> make_bundle(const BundleOptions& o, Sources& sources, const Say& say) {
  ZipWriter zip;
  say("Calling iotedge check");
  EDGE_TRY_VOID(zip.add("check.json", sources.check(o.iothub_hostname)));
  say("Got check");

  for (const auto& module : sources.modules()) {
    if (o.edge_runtime_only && module != "edgeAgent" && module != "edgeHub") continue;
    say("Getting logs for " + module);
    EDGE_TRY_VOID(zip.add("logs/" + module + "_log.txt", sources.module_logs(module, o.since, o.until)));
    say("Running docker inspect for " + module);
    EDGE_TRY_VOID(add_captured(zip, "inspect", module, sources.inspect_module(module)));
  }
  for (const auto& name : sources.networks()) {
    if (name.empty() || name.find('/') != std::string::npos) continue;
    say("Running docker network inspect for " + name);
    EDGE_TRY_VOID(add_captured(zip, "network", name, sources.inspect_network(name)));
  }
  for (const char* unit : {"aziot-keyd", "aziot-certd", "aziot-identityd", "aziot-edged", "docker"}) {
    say(std::string("Getting system logs for ") + unit);
    EDGE_TRY_VOID(add_system_log(zip, o, unit));
  }
  for (const auto& [entry, path] : o.config_files)
    if (auto text = read_config(path)) EDGE_TRY_VOID(zip.add(entry, redact(*text)));
  return zip.finish();
}

}  // namespace edge::cli::bundle
