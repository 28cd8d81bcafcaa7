// keyd: HMAC-SHA256 and ECDSA P-256 signs through the socket API, next to the same operation
// in-process with Mbed TLS (the library keyd signs with, keyd/crypto.h) and with OpenSSL (what
// the other daemons use), and next to the bare HTTP transport (our server answering an HMAC of
// the body in-process), all measured in this run. Also keyd's PSS idle and under load (target
// <= 2048 KiB), next to the PSS of a bare process doing the same work with OpenSSL
// (bench/openssl_floor.c), read at the same moments: what keyd could not get under had it
// stayed on OpenSSL.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include "bench/support.h"
#include "common/base64.h"
#include "common/crypto.h"
#include "common/http/client.h"
#include "common/http/router.h"
#include "common/http/server.h"
#include "keyd/crypto.h"

using edge::http::Json;
using namespace std::chrono_literals;

namespace {
constexpr auto kDuration = 2000ms;
constexpr auto kIdle = 3000ms;

std::string handle_of(edge::http::UnixClient& c, const std::string& path, const Json& body) {
  auto r = c.request("POST", path + "?api-version=2021-05-01", body);
  if (!r || r->status != 200) {
    std::fprintf(stderr, "setup request %s failed\n", path.c_str());
    std::exit(1);
  }
  return (*r->json())["keyHandle"];
}

// Starts the OpenSSL floor process and waits until it has done its work.
pid_t start_floor(const std::string& dir) {
  std::string log = dir + "/floor.log";
  pid_t pid = bench::spawn({OPENSSL_FLOOR}, {}, log);
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(log);
    std::string word;
    if (in >> word && word == "ready") return pid;
    std::this_thread::sleep_for(20ms);
  }
  std::fprintf(stderr, "openssl_floor did not start\n");
  std::exit(1);
}

constexpr long kPssTargetKib = 2048;

void pss_row(const std::string& when, long keyd, long floor) {
  std::printf("keyd PSS %-28s %6ld KiB (%s 2048) | bare OpenSSL process, same crypto %6ld KiB | ratio %.2f\n",
              when.c_str(), keyd, keyd <= kPssTargetKib ? "<=" : "OVER", floor,
              floor ? static_cast<double>(keyd) / static_cast<double>(floor) : 0.0);
}

double api_rate(const std::string& sock, int threads, const std::string& body) {
  std::vector<std::unique_ptr<edge::http::UnixClient>> clients;
  for (int i = 0; i < threads; ++i) clients.push_back(std::make_unique<edge::http::UnixClient>(sock));
  return bench::rate(threads, kDuration, [&](int t) {
    auto r = clients[t]->request_raw("POST", "/sign?api-version=2021-05-01", body, "application/json");
    return r && r->status == 200;
  });
}
}  // namespace

int main() {
  std::string dir = bench::temp_dir();
  std::string sock = dir + "/keyd.sock";
  FILE* f = std::fopen((dir + "/config.toml").c_str(), "w");
  std::fprintf(f, "[aziot_keys]\nhomedir_path = \"%s/home\"\n[endpoints]\naziot_keyd = \"unix://%s\"\n",
               dir.c_str(), sock.c_str());
  std::fclose(f);
  pid_t keyd = bench::spawn({bench::bin("aziot-keyd")},
                            {{"AZIOT_KEYD_CONFIG", dir + "/config.toml"}, {"AZIOT_KEYD_CONFIG_DIR", dir + "/none"},
                             {"AZIOT_LOG", "warn"}},
                            dir + "/keyd.log");
  if (!bench::wait_for_socket(sock)) return 1;
  std::this_thread::sleep_for(200ms);
  long pss_start = bench::pss_kib(keyd);

  edge::http::UnixClient setup(sock);
  std::string hmac_handle = handle_of(setup, "/key", Json{{"keyId", "bench-hmac"}, {"usage", "sign"}});
  std::string ec_handle = handle_of(setup, "/keypair", Json{{"keyId", "bench-ec"}, {"preferredAlgorithms", "ec-p256"}});
  std::string message(64, 'm');
  std::string digest = edge::crypto::sha256(message);
  std::string hmac_body = Json{{"keyHandle", hmac_handle}, {"algorithm", "HMAC-SHA256"},
                               {"parameters", {{"message", edge::base64::encode(message)}}}}.dump();
  std::string ec_body = Json{{"keyHandle", ec_handle}, {"algorithm", "ECDSA"},
                             {"parameters", {{"digest", edge::base64::encode(digest)}}}}.dump();
  pid_t floor = start_floor(dir);
  std::this_thread::sleep_for(200ms);
  // Read together: the PSS of shared library pages depends on who else maps them right now.
  long pss_busy = bench::pss_kib(keyd), floor_busy = bench::pss_kib(floor);
  // keyd gives memory back after 2 s without requests (keyd/idle_release.h).
  std::this_thread::sleep_for(kIdle);
  long pss_idle = bench::pss_kib(keyd), floor_idle = bench::pss_kib(floor);

  // Baselines in this process: OpenSSL directly, and our transport with a trivial handler.
  std::string key(32, 'k');
  auto openssl_hmac = [&](int) {
    unsigned char md[32];
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key.data(), 32, reinterpret_cast<const unsigned char*>(message.data()),
                message.size(), md, &len) != nullptr;
  };
  auto ec = edge::crypto::PKey(EVP_EC_gen("P-256"));
  auto openssl_ecdsa = [&](int) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(ec.get(), nullptr);
    unsigned char sig[80];
    size_t len = sizeof sig;
    bool ok = EVP_PKEY_sign_init(ctx) > 0 &&
              EVP_PKEY_sign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(digest.data()), 32) > 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
  };
  auto mbed_ec = keyd::crypto::PrivateKey::generate(keyd::crypto::KeyType::EcP256);
  if (!mbed_ec) return 1;
  auto mbed_ecdsa = [&](int) {
    static std::mutex one_key;  // keyd serialises operations on one key the same way
    std::lock_guard lock(one_key);
    return mbed_ec->ecdsa_sign(digest).has_value();
  };
  auto mbed_hmac = [&](int) { return keyd::crypto::hmac_sha256(key, message).size() == 32; };
  std::string bare_sock = dir + "/bare.sock";
  edge::http::Server bare(
      [&](edge::http::Request& r) {
        auto mac = edge::crypto::hmac_sha256(key, r.body);
        return edge::http::Response::json(200, Json{{"signature", edge::base64::encode(*mac)}});
      },
      {});
  if (!bare.listen(*edge::uri::parse_endpoint("unix://" + bare_sock))) return 1;
  std::thread bare_thread([&] { bare.run(); });

  std::printf("keyd benchmark (%d cores), %lld ms per figure\n", static_cast<int>(std::thread::hardware_concurrency()),
              static_cast<long long>(kDuration.count()));
  for (int clients : {1, 8}) {
    double transport = api_rate(bare_sock, clients, hmac_body);
    double hmac_api = api_rate(sock, clients, hmac_body);
    double hmac_raw = bench::rate(clients, kDuration, openssl_hmac);
    std::string n = std::to_string(clients) + " client" + (clients > 1 ? "s" : "");
    bench::row("HMAC-SHA256 sign via keyd API, " + n, hmac_api, "bare transport (same server code)", transport, "req/s");
    bench::row("HMAC-SHA256 sign via keyd API, " + n, hmac_api, "Mbed TLS HMAC in-process",
               bench::rate(clients, kDuration, mbed_hmac), "req/s");
    bench::row("HMAC-SHA256 sign via keyd API, " + n, hmac_api, "OpenSSL HMAC in-process", hmac_raw, "req/s");
    long pss_load = 0, floor_load = 0;
    std::thread sampler([&] {
      std::this_thread::sleep_for(kDuration / 2);
      pss_load = bench::pss_kib(keyd);
      floor_load = bench::pss_kib(floor);
    });
    double ec_api = api_rate(sock, clients, ec_body);
    sampler.join();
    double ec_raw = bench::rate(clients, kDuration, openssl_ecdsa);
    bench::row("ECDSA P-256 sign via keyd API, " + n, ec_api, "Mbed TLS ECDSA in-process, one key",
               bench::rate(clients, kDuration, mbed_ecdsa), "req/s");
    bench::row("ECDSA P-256 sign via keyd API, " + n, ec_api, "OpenSSL ECDSA in-process", ec_raw, "req/s");
    pss_row("under load (" + n + ")", pss_load, floor_load);
  }
  std::this_thread::sleep_for(kIdle);
  long pss_after = bench::pss_kib(keyd), floor_after = bench::pss_kib(floor);
  std::printf("keyd PSS at start (no request yet): %ld KiB\n", pss_start);
  pss_row("just after setup", pss_busy, floor_busy);
  pss_row("idle (3 s) after setup", pss_idle, floor_idle);
  pss_row("idle (3 s) after the load", pss_after, floor_after);
  bench::stop(floor);
  bare.stop();
  bare_thread.join();
  bench::stop(keyd);
  if (std::system(("rm -rf " + dir).c_str()) != 0) return 1;
  return 0;
}
