// keyd's resident memory after a burst (docs/keyd.md): the heap freed by the burst's
// per-connection work goes back to the kernel once keyd has been quiet for 2 s.
#include <catch2/catch.hpp>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/keyd/fixture.h"

using namespace keyd_test;

namespace {
// Anonymous resident KiB of a process (heap, malloc arenas, stacks), from smaps_rollup.
long anonymous_kib(pid_t pid) {
  std::ifstream rollup("/proc/" + std::to_string(pid) + "/smaps_rollup");
  std::string line;
  while (std::getline(rollup, line))
    if (line.rfind("Anonymous:", 0) == 0) return std::atol(line.c_str() + 10);
  return -1;
}
}  // namespace

TEST_CASE("keyd returns a burst's freed heap after 2 s without requests", "[memory]") {
  Keyd k(Backend::Files);
  std::string handle = k.create_key("burst", "sign");
  pid_t pid = k.process->pid();
  long before = anonymous_kib(pid);
  REQUIRE(before > 0);
  // 8 clients at once, each with a large message: per-connection buffers land in the heap.
  std::string message = b64(std::string(256 * 1024, 'm'));
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 8; ++c)
    clients.emplace_back([&] {
      edge::http::UnixClient own(k.socket);  // one connection per client thread
      for (int i = 0; i < 10; ++i) {
        auto r = edge::test::call(own, "POST", api("/sign"),
                        edge::http::Json{{"keyHandle", handle},
                                         {"algorithm", "HMAC-SHA256"},
                                         {"parameters", {{"message", message}}}});
        if (r.status == 200) ++ok;
      }
    });
  for (auto& t : clients) t.join();
  REQUIRE(ok == 80);
  long busy = anonymous_kib(pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  long idle = anonymous_kib(pid);
  INFO("anonymous KiB: before " << before << ", after the burst " << busy << ", 3.5 s later "
                                << idle);
  CHECK(busy > before);
  CHECK(idle < busy);
  // keyd still serves after giving the memory back.
  CHECK(k.call("GET", api("/key/burst")).status == 200);
}
