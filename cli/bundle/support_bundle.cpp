#include "cli/bundle/support_bundle.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <regex>

#include "cli/args.h"
#include "cli/bundle/zip_writer.h"
#include "cli/check/util.h"
#include "cli/system.h"
#include "common/fs.h"
#include "common/http/client.h"
#include "common/uri.h"

namespace edge::cli::bundle {
namespace {

constexpr char kApi[] = "api-version=2020-07-07";
constexpr size_t kMaxLogBytes = 256 * 1024 * 1024;  // per module, keeps the bundle bounded

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

// Status lines: upstream prints them to stdout; with `-o -` stdout is the zip, so stderr.
struct Status {
  bool verbose;
  bool to_stdout;
  void say(const std::string& line) const {
    if (!verbose) return;
    (to_stdout ? std::cout : std::cerr) << line << "\n";
  }
};

// Module names from edged's management API (empty with a warning when it does not answer).
std::vector<std::string> list_modules(const std::string& host, bool runtime_only, const Status& status) {
  std::vector<std::string> names;
  auto endpoint = uri::parse_endpoint(host);
  Result<http::ClientResponse> r = invalid("unsupported host " + host);
  if (endpoint && endpoint->kind == uri::Endpoint::Kind::Unix)
    r = http::UnixClient(endpoint->value, std::chrono::seconds(30)).request("GET", std::string("/modules?") + kApi);
  auto j = r && r->status == 200 ? r->json() : Result<http::Json>(invalid("no list"));
  if (!j || !j->contains("modules") || !(*j)["modules"].is_array()) {
    (status.to_stdout ? std::cout : std::cerr) << "Warning: Unable to call management socket. Module list not available.\n";
    return names;
  }
  for (const auto& m : (*j)["modules"])
    if (m.contains("name") && m["name"].is_string()) {
      std::string name = m["name"];
      if (!runtime_only || name == "edgeAgent" || name == "edgeHub") names.push_back(name);
    }
  return names;
}

// A module's logs through the management API, Docker's 8-byte frame headers removed.
std::string module_logs(const std::string& host, const std::string& module, long long since,
                        std::optional<long long> until) {
  auto endpoint = uri::parse_endpoint(host);
  if (!endpoint || endpoint->kind != uri::Endpoint::Kind::Unix) return "";
  http::UnixClient client(endpoint->value, std::chrono::seconds(60));
  std::string target = "/modules/" + uri::percent_encode(module) + "/logs?" + kApi +
                       "&follow=false&tail=all&since=" + std::to_string(since);
  if (until) target += "&until=" + std::to_string(*until);
  std::string pending, text;
  auto on_data = [&](std::string_view piece) {
    pending.append(piece);
    while (pending.size() >= 8) {
      auto b = [&](size_t i) { return static_cast<unsigned char>(pending[i]); };
      if (b(0) > 2 || b(1) || b(2) || b(3)) {  // a TTY container: raw text
        text += pending;
        pending.clear();
        break;
      }
      size_t len = size_t{b(4)} << 24 | size_t{b(5)} << 16 | size_t{b(6)} << 8 | size_t{b(7)};
      if (pending.size() < 8 + len) break;
      text.append(pending, 8, len);
      pending.erase(0, 8 + len);
    }
    return text.size() < kMaxLogBytes;
  };
  auto r = client.stream("GET", target, "", "", {}, on_data, std::chrono::seconds(60));
  if (!r) return text + "Could not read the logs of " + module + ": " + r.error().message + "\n";
  if (r->status != 200) return text + "Could not read the logs of " + module + ": " + r->message() + "\n";
  return text;
}

// Upstream's naming: <dir>/<name>.json, or <name>_err.json with docker's stderr, or
// <name>_err_docker.txt when docker could not run.
Result<void> add_docker_output(ZipWriter& zip, const std::string& dir, const std::string& name,
                               const std::vector<std::string>& docker_args) {
  std::vector<std::string> argv{check::docker_binary()};
  argv.insert(argv.end(), docker_args.begin(), docker_args.end());
  std::string out, err;
  int code = run_captured(argv, &out, &err);
  if (code < 0 || code == 127)
    return zip.add(dir + "/" + name + "_err_docker.txt", "Could not run docker: " + err);
  if (code != 0) return zip.add(dir + "/" + name + "_err.json", err);
  return zip.add(dir + "/" + name + ".json", out);
}

// Every config file of the identity services and edged, redacted.
Result<void> add_configs(ZipWriter& zip, const std::string& root) {
  if (auto text = check::read_small_file(root + "/etc/aziot/config.toml"))
    EDGE_TRY_VOID(zip.add("config/config.toml", redact(*text)));
  for (std::string d : {"keyd", "certd", "identityd", "tpmd", "edged"}) {
    if (auto text = check::read_small_file(root + "/etc/aziot/" + d + "/config.toml"))
      EDGE_TRY_VOID(zip.add("config/" + d + "/config.toml", redact(*text)));
    const std::string dir = root + "/etc/aziot/" + d + "/config.d";
    std::vector<std::string> files;
    if (DIR* h = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(h))
        if (std::string(e->d_name).ends_with(".toml")) files.push_back(e->d_name);
      ::closedir(h);
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      if (auto text = check::read_small_file(dir + "/" + f))
        EDGE_TRY_VOID(zip.add("config/" + d + "/config.d/" + f, redact(*text)));
  }
  return {};
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "iotedge";
}

int usage_error(const std::string& message) {
  std::cerr << "error: " << message << "\n\nFor more information, try 'iotedge --help'.\n";
  return 2;
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

int support_bundle_command(const std::string& host, std::vector<std::string> argv) {
  Args args(std::move(argv));
  if (args.flag("-h", "--help")) {
    std::cout << "Usage: iotedge support-bundle [-o|--output FILE|-] [--since T] [--until T] "
                 "[-e|--include-edge-runtime-only] [--iothub-hostname H] [-q|--quiet]\n\n"
                 "Bundles troubleshooting information\n";
    return 0;
  }
  const long long now = static_cast<long long>(std::time(nullptr));
  std::string default_name;
  {
    std::time_t tt = static_cast<std::time_t>(now);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "support_bundle_%Y_%m_%d_%H_%M_%S_UTC.zip", &tm);
    default_name = buf;
  }
  const std::string output = args.option("-o", "--output").value_or(default_name);
  const std::string since_text = args.option("", "--since").value_or("1 day");
  const auto until_text = args.option("", "--until");
  const bool runtime_only = args.flag("-e", "--include-edge-runtime-only");
  const auto iothub_hostname = args.option("", "--iothub-hostname");
  const bool quiet = args.flag("-q", "--quiet");
  if (!args.error().empty()) return usage_error(args.error());
  if (!args.empty()) return usage_error("unexpected argument '" + args.remaining().front() + "' found");
  auto since = parse_since(since_text, now);
  std::optional<long long> until;
  if (until_text) {
    auto u = parse_since(*until_text, now);
    if (!u) since = fail(u.error());
    else until = *u;
  }
  if (!since) {
    std::cerr << "Invalid value for --since or --until\n\tcaused by: " << since.error().message << "\n";
    return 1;
  }
  const Status status{!quiet, output != "-"};
  status.say("Making support bundle");

  ZipWriter zip;
  auto build = [&]() -> edge::Status {
    // check.json: `iotedge check -o json`, stdout then stderr, as upstream.
    status.say("Calling iotedge check");
    std::vector<std::string> check{self_exe(), "-H", host, "check", "-o", "json"};
    if (iothub_hostname) {
      check.push_back("--iothub-hostname");
      check.push_back(*iothub_hostname);
    }
    // Test seam: more `check` arguments (e.g. an offline diagnostics image).
    if (const char* extra = std::getenv("EDGE_CLI_BUNDLE_CHECK_ARGS"); extra && *extra) {
      std::string words = extra;
      for (size_t start = 0; start < words.size();) {
        size_t sp = words.find(' ', start);
        if (sp == std::string::npos) sp = words.size();
        if (sp > start) check.push_back(words.substr(start, sp - start));
        start = sp + 1;
      }
    }
    std::string out, err;
    run_captured(check, &out, &err);
    EDGE_TRY_VOID(zip.add("check.json", out + err));
    status.say("Got check");

    for (const auto& module : list_modules(host, runtime_only, status)) {
      status.say("Getting logs for " + module);
      EDGE_TRY_VOID(zip.add("logs/" + module + "_log.txt", module_logs(host, module, *since, until)));
      status.say("Running docker inspect for " + module);
      EDGE_TRY_VOID(add_docker_output(zip, "inspect", module, {"inspect", module}));
    }
    std::string networks, nerr;
    if (run_captured({check::docker_binary(), "network", "ls", "--format", "{{.Name}}"}, &networks, &nerr) == 0) {
      size_t start = 0;
      while (start < networks.size()) {
        size_t nl = networks.find('\n', start);
        std::string name = trim(networks.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
        if (!name.empty() && name.find('/') == std::string::npos) {
          status.say("Running docker network inspect for " + name);
          EDGE_TRY_VOID(add_docker_output(zip, "network", name, {"network", "inspect", name, "-v"}));
        }
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
    for (const char* unit : {"aziot-keyd", "aziot-certd", "aziot-identityd", "aziot-edged", "docker"}) {
      status.say(std::string("Getting system logs for ") + unit);
      const char* jc = std::getenv("EDGE_CLI_JOURNALCTL");
      std::vector<std::string> cmd{jc && *jc ? jc : "journalctl", "-a", "-u", unit, "-S", journal_time(*since)};
      if (until) {
        cmd.push_back("-U");
        cmd.push_back(journal_time(*until));
      }
      cmd.push_back("--no-pager");
      std::string lout, lerr;
      int code = run_captured(cmd, &lout, &lerr);
      if (code == 0) EDGE_TRY_VOID(zip.add(std::string("logs/") + unit + ".txt", lout));
      else EDGE_TRY_VOID(zip.add(std::string("logs/") + unit + "_err.txt",
                                 code < 0 ? "Could not run journalctl" : lerr));
    }
    EDGE_TRY_VOID(add_configs(zip, root_prefix()));
    return {};
  };
  if (auto s = build(); !s) {
    std::cerr << "Could not create the support bundle\n\tcaused by: " << s.error().message << "\n";
    return 1;
  }
  const std::string data = zip.finish();
  if (output == "-") {
    std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    return 0;
  }
  // Logs and configs are sensitive: owner-only.
  if (auto s = fs::write_atomic(output, data, 0600); !s) {
    std::cerr << "Could not create the support bundle\n\tcaused by: " << s.error().message << "\n";
    return 1;
  }
  char real[4096];
  status.say("Created support bundle at " + std::string(::realpath(output.c_str(), real) ? real : output.c_str()));
  return 0;
}

}  // namespace edge::cli::bundle
