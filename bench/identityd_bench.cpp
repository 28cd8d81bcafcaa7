// identityd: the device identity and a cached module identity through the socket API, next to
// the keyd calls they are made of (measured in this run), and identityd's PSS idle and after load.
#include <cstdio>
#include <memory>
#include <thread>

#include "bench/support.h"
#include "common/base64.h"
#include "common/http/client.h"

using edge::http::Json;
using namespace std::chrono_literals;

namespace {
constexpr auto kDuration = 2000ms;

void write(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

double get_rate(const std::string& sock, int threads, const std::string& target) {
  std::vector<std::unique_ptr<edge::http::UnixClient>> clients;
  for (int i = 0; i < threads; ++i)
    clients.push_back(std::make_unique<edge::http::UnixClient>(sock));
  return bench::rate(threads, kDuration, [&](int t) {
    auto r = clients[t]->request("GET", target);
    return r && r->status == 200;
  });
}
}  // namespace

int main() {
  std::string dir = bench::temp_dir();
  std::string keyd_sock = dir + "/keyd.sock", id_sock = dir + "/identityd.sock";
  write(dir + "/keyd.toml", "[aziot_keys]\nhomedir_path = \"" + dir +
                                "/keyd-home\"\n[endpoints]\naziot_keyd = \"unix://" + keyd_sock +
                                "\"\n");
  pid_t keyd = bench::spawn({bench::bin("aziot-keyd")},
                            {{"AZIOT_KEYD_CONFIG", dir + "/keyd.toml"},
                             {"AZIOT_KEYD_CONFIG_DIR", dir + "/none"},
                             {"AZIOT_LOG", "warn"}},
                            dir + "/keyd.log");
  if (!bench::wait_for_socket(keyd_sock)) return 1;
  edge::http::UnixClient setup(keyd_sock);
  auto r = setup.request("POST", "/key?api-version=2021-05-01",
                         Json{{"keyId", "device-id"},
                              {"keyBytes", edge::base64::encode(std::string(32, 'k'))},
                              {"usage", "derive,sign"}});
  if (!r || r->status != 200) return 1;
  std::string home = dir + "/identityd-home";
  [[maybe_unused]] int rc = std::system(("mkdir -p " + home + " && chmod 700 " + home).c_str());
  write(
      home + "/modules.json",
      R"({"hub":"127.255.255.254","device":"dev1","modules":{"mod1":{"generationId":"1"}},"principals":[]})");
  write(dir + "/identityd.toml",
        "hostname = \"h\"\nhomedir = \"" + home +
            "\"\nprefer_module_identity_cache = true\n[provisioning]\nsource = \"manual\"\n"
            "iothub_hostname = \"127.255.255.254\"\ndevice_id = \"dev1\"\n"
            "[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = \"device-id\"\n"
            "[endpoints]\naziot_identityd = \"unix://" +
            id_sock + "\"\naziot_keyd = \"unix://" + keyd_sock + "\"\naziot_certd = \"unix://" +
            dir + "/none.sock\"\n");
  pid_t identityd = bench::spawn({bench::bin("aziot-identityd")},
                                 {{"AZIOT_IDENTITYD_CONFIG", dir + "/identityd.toml"},
                                  {"AZIOT_IDENTITYD_CONFIG_DIR", dir + "/none"},
                                  {"AZIOT_LOG", "warn"}},
                                 dir + "/identityd.log");
  if (!bench::wait_for_socket(id_sock)) return 1;
  std::this_thread::sleep_for(200ms);
  long pss_start = bench::pss_kib(identityd);

  for (int threads : {1, 4}) {
    std::string t = " (" + std::to_string(threads) + " thread" + (threads > 1 ? "s)" : ")");
    double keyd_get = get_rate(keyd_sock, threads, "/key/device-id?api-version=2021-05-01");
    double device = get_rate(id_sock, threads, "/identities/identity?api-version=2022-08-01");
    bench::row("GET /identities/identity" + t, device, "keyd GET /key (its one keyd call)",
               keyd_get, "req/s");
    double module =
        get_rate(id_sock, threads, "/identities/modules/mod1?type=aziot&api-version=2022-08-01");
    bench::row("GET /identities/modules/mod1 cached" + t, module,
               "keyd GET /key / 2 (master + derive)", keyd_get / 2, "req/s");
    double bundle = get_rate(id_sock, threads, "/trust-bundle?api-version=2022-08-01");
    bench::row("GET /trust-bundle (no keyd call)" + t, bundle, "keyd GET /key", keyd_get, "req/s");
  }
  long pss_end = bench::pss_kib(identityd);
  bench::row("identityd PSS idle", static_cast<double>(pss_start), "after load",
             static_cast<double>(pss_end), "KiB");
  bench::stop(identityd);
  bench::stop(keyd);
  return 0;
}
