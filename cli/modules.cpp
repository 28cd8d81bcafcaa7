#include "cli/modules.h"

#include <ctime>
#include <iostream>
#include <vector>

#include "common/http/client.h"
#include "common/uri.h"

namespace edge::cli {
namespace {
constexpr char kApi[] = "api-version=2020-07-07";

int runtime_error(const std::string& message) {
  std::cerr << "A module runtime error occurred.\n\tcaused by: " << message << "\n";
  return 1;
}

Result<http::UnixClient> connect(const std::string& host) {
  auto endpoint = EDGE_TRY(uri::parse_endpoint(host));
  if (endpoint.kind != uri::Endpoint::Kind::Unix) return invalid("unsupported host " + host);
  return http::UnixClient(endpoint.value);
}

long long parse_time(const std::string& t) {
  if (t.empty()) return 0;
  std::tm tm{};
  if (!strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return static_cast<long long>(timegm(&tm));
}

// Columns as Rust's tabwriter with minwidth 15 and padding 2: left-aligned, last unpadded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows)
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(15);
      widths[i] = std::max(widths[i], row[i].size() + 2);
    }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size(), ' ');
    }
    std::cout << line << "\n";
  }
}
}  // namespace

std::string humanize(long long s, bool past) {
  if (s < 0) s = -s;
  std::string text;
  auto plural = [](long long n, const char* unit) {
    return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
  };
  if (s <= 20) {
    text = plural(s, "second");
  } else if (s < 45) {
    text = "seconds";
  } else if (s < 90) {
    text = "a minute";
  } else if (s < 45 * 60) {
    text = plural((s + 30) / 60, "minute");
  } else if (s < 90 * 60) {
    text = "an hour";
  } else if (s < 24 * 3600) {
    text = plural((s + 1800) / 3600, "hour");
  } else if (s < 42 * 3600) {
    text = "a day";
  } else if (s < 30 * 86400) {
    text = plural((s + 43200) / 86400, "day");
  } else if (s < 45 * 86400) {
    text = "a month";
  } else if (s < 320 * 86400) {
    text = plural(s / (30 * 86400), "month");
  } else if (s < 548 * 86400) {
    text = "a year";
  } else {
    text = plural(s / (365 * 86400), "year");
  }
  return past ? text + " ago" : text;
}

std::string describe_status(const std::string& status, const std::string& start_time,
                            const std::string& exit_time, const std::string& exit_code,
                            long long now) {
  if (status == "running")
    return start_time.empty() ? "Up" : "Up " + humanize(now - parse_time(start_time), false);
  if (status == "stopped" || status == "dead")
    return exit_time.empty() ? "Stopped" : "Stopped " + humanize(now - parse_time(exit_time), true);
  if (status == "failed") {
    if (exit_time.empty() || exit_code.empty()) return "Failed";
    return "Failed (" + exit_code + ") " + humanize(now - parse_time(exit_time), true);
  }
  return "Unknown";
}

int list_command(const std::string& host, Args& args) {
  if (!args.empty()) {
    std::cerr << "error: unexpected argument '" << args.remaining().front() << "' found\n";
    return 2;
  }
  auto client = connect(host);
  if (!client) return runtime_error(client.error().message);
  auto r = client->request("GET", std::string("/modules?") + kApi);
  if (!r) return runtime_error("could not reach the management API at " + host + ": " + r.error().message);
  if (r->status != 200) return runtime_error(r->message());
  auto body = r->json();
  if (!body || !body->contains("modules")) return runtime_error("malformed response from the management API");
  std::vector<http::Json> modules = (*body)["modules"].get<std::vector<http::Json>>();
  std::sort(modules.begin(), modules.end(),
            [](const http::Json& a, const http::Json& b) { return a.value("name", "") < b.value("name", ""); });
  long long now = std::time(nullptr);
  std::vector<std::vector<std::string>> rows = {{"NAME", "STATUS", "DESCRIPTION", "Config"}};
  for (const auto& m : modules) {
    const auto& st = m.value("status", http::Json::object());
    std::string status = st.value("runtimeStatus", http::Json::object()).value("status", "unknown");
    const auto& exit = st.value("exitStatus", http::Json::object());
    rows.push_back({m.value("name", ""), status,
                    describe_status(status, st.value("startTime", ""), exit.value("exitTime", ""),
                                    exit.value("statusCode", ""), now),
                    m["config"]["settings"].value("image", "")});
  }
  print_table(rows);
  return 0;
}

int logs_command(const std::string& host, Args& args) {
  auto tail = args.option("", "--tail");
  auto since = args.option("", "--since");
  auto until = args.option("", "--until");
  bool follow = args.flag("-f", "--follow");
  auto module = args.next_positional();
  if (!args.error().empty() || !module) {
    std::cerr << "error: " << (args.error().empty() ? "the module name is required" : args.error())
              << "\n\nUsage: iotedge logs [--tail N] [--since T] [--until T] [-f] <MODULE>\n";
    return 2;
  }
  std::string target = "/modules/" + uri::percent_encode(*module) + "/logs?" + kApi;
  target += "&tail=" + uri::percent_encode(tail.value_or("all"));
  target += "&since=" + uri::percent_encode(since.value_or("1 day"));
  if (until) target += "&until=" + uri::percent_encode(*until);
  target += std::string("&follow=") + (follow ? "true" : "false");
  auto client = connect(host);
  if (!client) return runtime_error(client.error().message);
  // The body is Docker's multiplexed stream: drop each frame's 8-byte header.
  std::string pending;
  auto on_data = [&](std::string_view piece) {
    pending.append(piece);
    while (pending.size() >= 8) {
      auto b = [&](size_t i) { return static_cast<unsigned char>(pending[i]); };
      if (b(0) > 2 || b(1) || b(2) || b(3)) {  // a TTY container: raw text
        std::cout << pending << std::flush;
        pending.clear();
        break;
      }
      size_t len = size_t{b(4)} << 24 | size_t{b(5)} << 16 | size_t{b(6)} << 8 | size_t{b(7)};
      if (pending.size() < 8 + len) break;
      std::cout << pending.substr(8, len) << std::flush;
      pending.erase(0, 8 + len);
    }
    return true;
  };
  auto r = client->stream("GET", target, "", "", {}, on_data, std::chrono::hours(24 * 365));
  if (!r) return runtime_error(r.error().message);
  if (r->status != 200) return runtime_error(r->message());
  return 0;
}

int restart_command(const std::string& host, Args& args) {
  auto module = args.next_positional();
  if (!module || !args.empty()) {
    std::cerr << "error: the module name is required\n\nUsage: iotedge restart <MODULE>\n";
    return 2;
  }
  auto client = connect(host);
  if (!client) return runtime_error(client.error().message);
  for (const char* action : {"stop", "start"}) {
    auto r = client->request("POST", "/modules/" + uri::percent_encode(*module) + "/" + action + "?" + kApi);
    if (!r) return runtime_error(r.error().message);
    // A module that is already stopped is fine to start again.
    if (r->status != 204 && !(std::string(action) == "stop" && r->status == 304)) return runtime_error(r->message());
  }
  std::cout << "Restarted " << *module << "\n";
  return 0;
}

}  // namespace edge::cli
