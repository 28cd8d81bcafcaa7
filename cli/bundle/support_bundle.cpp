#include "cli/bundle/support_bundle.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "cli/args.h"
#include "cli/check/util.h"
#include "cli/system.h"
#include "common/fs.h"
#include "common/http/client.h"
#include "common/uri.h"

namespace edge::cli::bundle {
namespace {

constexpr char kApi[] = "api-version=2020-07-07";
constexpr size_t kMaxLogBytes = 256 * 1024 * 1024;  // per module, keeps the bundle bounded

// Status lines: upstream prints them to stdout; with `-o -` stdout is the zip, so stderr.
struct Status {
  bool verbose;
  bool to_stdout;
  void say(const std::string& line) const {
    if (!verbose) return;
    (to_stdout ? std::cout : std::cerr) << line << "\n";
  }
};

// Upstream's naming: <name>.json, or <name>_err.json with docker's stderr, or
// <name>_err_docker.txt when docker could not run.
Captured docker_output(const std::vector<std::string>& docker_args) {
  std::vector<std::string> argv{check::docker_binary()};
  argv.insert(argv.end(), docker_args.begin(), docker_args.end());
  std::string out, err;
  int code = run_captured(argv, &out, &err);
  if (code < 0 || code == 127) return {Captured::Kind::NotRun, "Could not run docker: " + err};
  if (code != 0) return {Captured::Kind::Failed, err};
  return {Captured::Kind::Ok, out};
}

std::string self_exe();

// The CLI's sources: edged's management API for modules and logs, the docker CLI for inspects.
class CliSources : public Sources {
 public:
  CliSources(std::string host, bool warn_to_stdout) : host_(std::move(host)), warn_to_stdout_(warn_to_stdout) {}

  std::string check(const std::optional<std::string>& iothub_hostname) override {
    // check.json: `iotedge check -o json`, stdout then stderr, as upstream.
    std::vector<std::string> check{self_exe(), "-H", host_, "check", "-o", "json"};
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
    return out + err;
  }

  // Module names from edged's management API (empty with a warning when it does not answer).
  std::vector<std::string> modules() override {
    std::vector<std::string> names;
    auto endpoint = uri::parse_endpoint(host_);
    Result<http::ClientResponse> r = invalid("unsupported host " + host_);
    if (endpoint && endpoint->kind == uri::Endpoint::Kind::Unix)
      r = http::UnixClient(endpoint->value, std::chrono::seconds(30)).request("GET", std::string("/modules?") + kApi);
    auto j = r && r->status == 200 ? r->json() : Result<http::Json>(invalid("no list"));
    if (!j || !j->contains("modules") || !(*j)["modules"].is_array()) {
      (warn_to_stdout_ ? std::cout : std::cerr) << "Warning: Unable to call management socket. Module list not available.\n";
      return names;
    }
    for (const auto& m : (*j)["modules"])
      if (m.contains("name") && m["name"].is_string()) names.push_back(m["name"]);
    return names;
  }

  // A module's logs through the management API, Docker's 8-byte frame headers removed.
  std::string module_logs(const std::string& module, long long since, std::optional<long long> until) override {
    auto endpoint = uri::parse_endpoint(host_);
    if (!endpoint || endpoint->kind != uri::Endpoint::Kind::Unix) return "";
    http::UnixClient client(endpoint->value, std::chrono::seconds(60));
    std::string target = "/modules/" + uri::percent_encode(module) + "/logs?" + kApi +
                         "&follow=false&tail=all&since=" + std::to_string(since);
    if (until) target += "&until=" + std::to_string(*until);
    FrameText logs;
    auto on_data = [&](std::string_view piece) {
      logs.feed(piece);
      return logs.text.size() < kMaxLogBytes;
    };
    auto r = client.stream("GET", target, "", "", {}, on_data, std::chrono::seconds(60));
    if (!r) return logs.text + "Could not read the logs of " + module + ": " + r.error().message + "\n";
    if (r->status != 200) return logs.text + "Could not read the logs of " + module + ": " + r->message() + "\n";
    return logs.text;
  }

  Captured inspect_module(const std::string& module) override { return docker_output({"inspect", module}); }

  std::vector<std::string> networks() override {
    std::vector<std::string> names;
    std::string out, err;
    if (run_captured({check::docker_binary(), "network", "ls", "--format", "{{.Name}}"}, &out, &err) != 0)
      return names;
    size_t start = 0;
    while (start < out.size()) {
      size_t nl = out.find('\n', start);
      std::string name = out.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
      names.push_back(name);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    return names;
  }

  Captured inspect_network(const std::string& network) override {
    return docker_output({"network", "inspect", network, "-v"});
  }

 private:
  std::string host_;
  bool warn_to_stdout_;
};

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

  BundleOptions options;
  options.since = *since;
  options.until = until;
  options.edge_runtime_only = runtime_only;
  options.iothub_hostname = iothub_hostname;
  if (const char* jc = std::getenv("EDGE_CLI_JOURNALCTL"); jc && *jc) options.journalctl = jc;
  options.config_files = aziot_config_files(root_prefix());
  CliSources sources(host, status.to_stdout);
  auto data = make_bundle(options, sources, [&](const std::string& line) { status.say(line); });
  if (!data) {
    std::cerr << "Could not create the support bundle\n\tcaused by: " << data.error().message << "\n";
    return 1;
  }
  if (output == "-") {
    std::cout.write(data->data(), static_cast<std::streamsize>(data->size()));
    std::cout.flush();
    return 0;
  }
  // Logs and configs are sensitive: owner-only.
  if (auto s = fs::write_atomic(output, *data, 0600); !s) {
    std::cerr << "Could not create the support bundle\n\tcaused by: " << s.error().message << "\n";
    return 1;
  }
  char real[4096];
  status.say("Created support bundle at " + std::string(::realpath(output.c_str(), real) ? real : output.c_str()));
  return 0;
}

}  // namespace edge::cli::bundle
