// Edge CA auto-renewal in the running daemon: a quickstart CA valid 1 day with
// [edge_ca.auto_renew] threshold = "1439min" is due a minute after it was issued. The renewal
// rotates the key (the trust bundle's CA has a new public key) and edged then stops every
// module and starts them again with the agent last (Docker's event order and start times).
#include <ctime>

#include "tests/edged/runtime_stack.h"

using namespace runtime_stack;

namespace {
std::string ca_public_key(const std::string& dir, edge::http::UnixClient& workload) {
  auto bundle = edge::test::call(workload, "GET", "/trust-bundle?api-version=2018-06-28");
  if (bundle.status != 200) return "";
  edge::test::write_file(dir + "/ca.pem", bundle.json["certificate"].get<std::string>());
  std::string out;
  edge::test::run("openssl x509 -in " + dir + "/ca.pem -noout -pubkey", &out);
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> v;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    if (nl > start) v.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return v;
}

// "2026-11-22T13:20:01.123456789Z" -> nanoseconds since the epoch.
long long docker_time(const std::string& t) {
  struct tm tm {};
  const char* rest = strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  long long ns = static_cast<long long>(timegm(&tm)) * 1000000000LL;
  if (rest && *rest == '.') {
    long long frac = 0;
    int digits = 0;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, ++digits)
      if (digits < 9) frac = frac * 10 + (*rest - '0');
    for (; digits < 9; ++digits) frac *= 10;
    ns += frac;
  }
  return ns;
}
}  // namespace

TEST_CASE("after an Edge CA renewal edged restarts the modules with the agent last",
          "[docker][e2e]") {
  Stack s(1);
  s.write_edged_config("unix:///var/run/docker.sock",
                       "\n[edge_ca.auto_renew]\nrotate_key = true\nthreshold = \"1439min\"\nretry = \"1min\"\n");
  s.start_edged();
  bool up = wait_until([&] { return s.agent_running(); }, std::chrono::seconds(40));
  INFO(s.log());
  REQUIRE(up);
  std::vector<std::string> modules{"renew-a-" + s.suffix, "renew-b-" + s.suffix};
  for (const auto& m : modules) s.create_module(m);
  edge::http::UnixClient workload(s.dir / "workload.sock");
  std::string old_key = ca_public_key(s.dir.path(), workload);
  REQUIRE_FALSE(old_key.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  long long t0 = std::time(nullptr);
  REQUIRE_THAT(s.log(), !Catch::Contains("Edge CA was renewed"));  // not too early for the test

  bool renewed = wait_until(
      [&] { return s.log().find("All modules restarted after the Edge CA renewal") != std::string::npos; },
      std::chrono::seconds(120));
  std::string log = s.log();
  INFO(log);
  REQUIRE(renewed);
  CHECK_THAT(log, Catch::Contains("Edge CA was renewed"));

  // The key was rotated: the CA in the trust bundle has another public key.
  std::string new_key = ca_public_key(s.dir.path(), workload);
  CHECK_FALSE(new_key.empty());
  CHECK(new_key != old_key);

  // Docker's events since t0: every module stopped before any started; the agent started last.
  std::string out;
  edge::test::run("docker events --since " + std::to_string(t0) + " --until " +
                      std::to_string(std::time(nullptr) + 1) + " --filter label=" + s.scope +
                      " --filter event=stop --filter event=start --format '{{.Action}} {{.Actor.Attributes.name}}'",
                  &out);
  INFO(out);
  auto events = lines(out);
  std::vector<std::string> expected_stops, starts;
  size_t first_start = events.size(), last_stop = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].starts_with("start ")) {
      first_start = std::min(first_start, i);
      starts.push_back(events[i].substr(6));
    } else {
      last_stop = i;
    }
  }
  CHECK(std::count(events.begin(), events.end(), "stop " + s.agent) == 1);
  for (const auto& m : modules) CHECK(std::count(events.begin(), events.end(), "stop " + m) == 1);
  CHECK(last_stop < first_start);
  REQUIRE(starts.size() == 3);
  CHECK(starts.back() == s.agent);

  // The containers' start times agree, and every one is running again.
  long long agent_started = docker_time(s.agent_info()["State"]["StartedAt"]);
  for (const auto& m : modules) {
    auto info = s.docker.inspect_container(m);
    REQUIRE(info);
    CHECK((*info)["State"]["Running"] == true);
    long long started = docker_time((*info)["State"]["StartedAt"]);
    CHECK(started > t0 * 1000000000LL);
    CHECK(started < agent_started);
  }
  CHECK(s.agent_running());
}
