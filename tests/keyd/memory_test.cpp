// keyd's resident-memory measures (docs/keyd.md): start-up code pages released before serving,
// and edge::memory::release_file_pages keeping relocated data intact in the caller.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/crypto.h"
#include "common/memory.h"
#include "tests/keyd/fixture.h"

using namespace keyd_test;

namespace {
// Resident KiB of the code (r-x) mappings of `file` (a path fragment) in /proc/<pid>/smaps.
long resident_code_kib(pid_t pid, const std::string& file) {
  std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
  std::string line;
  bool in_file = false;
  long total = 0;
  while (std::getline(smaps, line)) {
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    if (range.find('-') != std::string::npos && perms.size() == 4)
      in_file = perms == "r-xp" && line.find(file) != std::string::npos;
    else if (in_file && line.rfind("Rss:", 0) == 0)
      total += std::atol(line.c_str() + 4);
  }
  return total;
}

struct Shape {
  virtual ~Shape() = default;
  virtual int sides() const = 0;
};
struct Square : Shape {
  int sides() const override { return 4; }
};
}  // namespace

TEST_CASE("keyd serves with the config parser's code no longer resident", "[memory]") {
  Keyd k(Backend::Files);
  // toml++ ran at start-up only: its code pages were released (its relocated data stays).
  CHECK(resident_code_kib(k.process->pid(), "libtomlplusplus") == 0);
  // ...and everything still works: code comes back on use.
  std::string handle = k.create_key("released", "sign");
  auto r = k.call("POST", api("/sign"),
                  edge::http::Json{{"keyHandle", handle},
                                   {"algorithm", "HMAC-SHA256"},
                                   {"parameters", {{"message", b64("hello")}}}});
  CHECK(r.status == 200);
  k.restart();
  CHECK(k.call("GET", api("/key/released")).status == 200);
}

TEST_CASE("keyd gives code pages back after 2 s without requests", "[memory]") {
  Keyd k(Backend::Files);
  std::string handle = k.create_key_pair("idle", "ec-p256");
  auto sign = [&] {
    return k.call("POST", api("/sign"),
                  edge::http::Json{{"keyHandle", handle},
                                   {"algorithm", "ECDSA"},
                                   {"parameters", {{"digest", b64(sha256("m"))}}}});
  };
  for (int i = 0; i < 20; ++i) REQUIRE(sign().status == 200);
  pid_t pid = k.process->pid();
  long keyd_busy = resident_code_kib(pid, "bin/aziot-keyd");
  long crypto_busy = resident_code_kib(pid, "libcrypto");
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  long keyd_idle = resident_code_kib(pid, "bin/aziot-keyd");
  long crypto_idle = resident_code_kib(pid, "libcrypto");
  INFO("code resident, busy -> idle: keyd " << keyd_busy << " -> " << keyd_idle << " KiB, libcrypto "
                                            << crypto_busy << " -> " << crypto_idle << " KiB");
  CHECK(crypto_idle < crypto_busy / 4);  // the idle keyd runs no OpenSSL code
  CHECK(keyd_idle < keyd_busy);
  // The next request brings back what it needs.
  CHECK(sign().status == 200);
  CHECK(resident_code_kib(pid, "libcrypto") > crypto_idle);
}

TEST_CASE("release_file_pages keeps relocated data and code working", "[memory]") {
  std::unique_ptr<Shape> shape = std::make_unique<Square>();  // vtable in relocated data
  std::function<std::string(const std::string&)> digest = [](const std::string& s) {
    return edge::crypto::hex(edge::crypto::sha256(s));
  };
  std::string before = digest("abc");
  size_t released = edge::memory::release_file_pages();
  CHECK(released > 0);
  CHECK(shape->sides() == 4);
  CHECK(digest("abc") == before);
  CHECK(before == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
