// aziot-edged's workload `sign`: requests/s and p50/p99 latency with 8 keep-alive clients over
// a module's socket, run by a static load generator inside a busybox container named as the
// module (so edged's real caller check, `docker top` with its pid memory, is on the path), next
// to keyd's direct HMAC sign measured in the same run; the uncached caller check alone; and
// aziot-edged's PSS idle and under load. Needs dockerd and the edge-test-busybox:1 image.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include "bench/support.h"
#include "common/base64.h"
#include "common/http/client.h"
#include "edged/auth.h"
#include "edged/docker.h"
#include "edged/module.h"

using edge::http::Json;
using namespace std::chrono_literals;

namespace {
constexpr int kClients = 8;
constexpr int kSeconds = 4;

void write(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "w");
  std::fputs(text.c_str(), f);
  std::fclose(f);
}

struct Latency {
  double rate = 0;
  double p50_us = 0, p99_us = 0;
};

// keyd's /sign HMAC-SHA256 from `threads` keep-alive clients on the host.
Latency keyd_sign(const std::string& sock, const std::string& handle, const std::string& data) {
  std::mutex m;
  std::vector<double> all;
  std::vector<std::unique_ptr<edge::http::UnixClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<edge::http::UnixClient>(sock));
  Json body{{"keyHandle", handle}, {"algorithm", "HMAC-SHA256"}, {"parameters", {{"message", data}}}};
  std::vector<std::vector<double>> per(kClients);
  Latency out;
  out.rate = bench::rate(kClients, std::chrono::seconds(kSeconds), [&](int t) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = clients[t]->request("POST", "/sign?api-version=2021-05-01", body);
    per[t].push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    return r && r->status == 200;
  });
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  if (!all.empty()) {
    out.p50_us = all[all.size() / 2];
    out.p99_us = all[all.size() * 99 / 100];
  }
  return out;
}
}  // namespace

int main() {
  std::string dir = bench::temp_dir();
  ::chmod(dir.c_str(), 0755);
  std::string name = "wl-bench-" + std::to_string(::getpid());
  std::string keyd_sock = dir + "/keyd.sock", certd_sock = dir + "/certd.sock", id_sock = dir + "/identityd.sock";
  std::string home = dir + "/edged-home";
  edged::docker::Client docker;
  if (!docker.version()) {
    std::fprintf(stderr, "bench_workload: dockerd does not answer on /var/run/docker.sock\n");
    return 1;
  }

  write(dir + "/keyd.toml", "[aziot_keys]\nhomedir_path = \"" + dir + "/keyd-home\"\n[endpoints]\naziot_keyd = \"unix://" + keyd_sock + "\"\n");
  pid_t keyd = bench::spawn({bench::bin("aziot-keyd")}, {{"AZIOT_KEYD_CONFIG", dir + "/keyd.toml"}, {"AZIOT_KEYD_CONFIG_DIR", dir + "/none"}, {"AZIOT_LOG", "warn"}}, dir + "/keyd.log");
  if (!bench::wait_for_socket(keyd_sock)) return 1;
  edge::http::UnixClient setup(keyd_sock);
  auto imported = setup.request("POST", "/key?api-version=2021-05-01",
                                Json{{"keyId", "device-id"}, {"keyBytes", edge::base64::encode(std::string(32, 'k'))}, {"usage", "derive,sign"}});
  if (!imported || imported->status != 200) return 1;

  write(dir + "/certd.toml", "homedir_path = \"" + dir + "/certd-home\"\n[cert_issuance]\naziot-edged-ca = { method = \"self_signed\" }\n"
        "[preloaded_certs]\naziot-edged-trust-bundle = [\"aziot-edged-ca\"]\n[endpoints]\naziot_certd = \"unix://" + certd_sock +
        "\"\naziot_keyd = \"unix://" + keyd_sock + "\"\n");
  pid_t certd = bench::spawn({bench::bin("aziot-certd")}, {{"AZIOT_CERTD_CONFIG", dir + "/certd.toml"}, {"AZIOT_CERTD_CONFIG_DIR", dir + "/none"}, {"AZIOT_LOG", "warn"}}, dir + "/certd.log");
  if (!bench::wait_for_socket(certd_sock)) return 1;

  // identityd offline, the module served from its cache (no hub round trip per sign).
  std::string id_home = dir + "/identityd-home";
  [[maybe_unused]] int rc = std::system(("mkdir -p " + id_home + " && chmod 700 " + id_home).c_str());
  write(id_home + "/modules.json", R"({"hub":"127.255.255.254","device":"dev1","modules":{")" + name + R"(":{"generationId":"1"}},"principals":[]})");
  write(dir + "/identityd.toml", "hostname = \"h\"\nhomedir = \"" + id_home + "\"\nprefer_module_identity_cache = true\n[provisioning]\nsource = \"manual\"\n"
        "iothub_hostname = \"127.255.255.254\"\ndevice_id = \"dev1\"\n[provisioning.authentication]\nmethod = \"sas\"\ndevice_id_pk = \"device-id\"\n"
        "[endpoints]\naziot_identityd = \"unix://" + id_sock + "\"\naziot_keyd = \"unix://" + keyd_sock + "\"\naziot_certd = \"unix://" + certd_sock + "\"\n");
  pid_t identityd = bench::spawn({bench::bin("aziot-identityd")}, {{"AZIOT_IDENTITYD_CONFIG", dir + "/identityd.toml"}, {"AZIOT_IDENTITYD_CONFIG_DIR", dir + "/none"}, {"AZIOT_LOG", "warn"}}, dir + "/identityd.log");
  if (!bench::wait_for_socket(id_sock)) return 1;
  edge::http::UnixClient id_client(id_sock);
  auto module = id_client.request("GET", "/identities/modules/" + name + "?type=aziot&api-version=2020-09-01");
  if (!module || module->status != 200) {
    std::fprintf(stderr, "bench_workload: identityd has no cached module: %s\n", module ? module->body.c_str() : "no answer");
    return 1;
  }
  std::string module_handle = module->json()->at("spec").at("auth").at("keyHandle");

  // The module container: the load generator, its workload socket mounted as the agent does.
  [[maybe_unused]] int cp = std::system(("cp " WORKLOAD_LOAD " " + dir + "/workload-load").c_str());
  std::string data = edge::base64::encode("dev1/modules/" + name + "\n1700000000");
  Json create{{"Image", "edge-test-busybox:1"},
              {"Cmd", {"/load", "/var/run/iotedge/workload.sock", "/modules/" + name + "/genid/1/sign?api-version=2020-07-07",
                       "{\"data\":\"" + data + "\"}", std::to_string(kClients), std::to_string(kSeconds)}},
              {"Labels", {{edged::kOwnerLabel, edged::kOwner}}},
              {"HostConfig", {{"Binds", {dir + "/workload-load:/load:ro", home + "/mnt/" + name + ".sock:/var/run/iotedge/workload.sock"}}}}};
  (void)docker.remove_container(name, true);
  if (!docker.create_container(name, create)) return 1;

  write(dir + "/edged.toml", "hostname = \"h\"\nhomedir = \"" + home + "\"\n[agent]\nname = \"wl-bench-agent\"\n[listen]\nmanagement_uri = \"unix://" + dir +
        "/mgmt.sock\"\nworkload_uri = \"unix://" + dir + "/workload.sock\"\n[endpoints]\naziot_keyd_url = \"unix://" + keyd_sock +
        "\"\naziot_certd_url = \"unix://" + certd_sock + "\"\naziot_identityd_url = \"unix://" + id_sock + "\"\n");
  pid_t edged = bench::spawn({bench::bin("aziot-edged")}, {{"AZIOT_EDGED_CONFIG", dir + "/edged.toml"}, {"AZIOT_EDGED_CONFIG_DIR", dir + "/none"}, {"AZIOT_LOG", "warn"}}, dir + "/edged.log");
  if (!bench::wait_for_socket(dir + "/mgmt.sock")) {
    std::fprintf(stderr, "bench_workload: aziot-edged did not start (see %s/edged.log)\n", dir.c_str());
    return 1;
  }
  std::this_thread::sleep_for(300ms);
  long pss_idle = bench::pss_kib(edged);

  Latency keyd_direct = keyd_sign(keyd_sock, module_handle, data);

  edge::http::UnixClient mgmt(dir + "/mgmt.sock");
  auto started = mgmt.request("POST", "/modules/" + name + "/start?api-version=2022-08-03");
  if (!started || started->status != 204) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(kSeconds * 600));
  long pss_load = bench::pss_kib(edged);
  for (int i = 0; i < 200; ++i) {
    auto info = docker.inspect_container(name);
    if (info && !(*info)["State"].value("Running", true)) break;
    std::this_thread::sleep_for(100ms);
  }
  std::string out;
  (void)docker.logs(name, {}, [&](const edged::docker::LogFrame& f) {
    out += f.text;
    return true;
  });
  long requests = 0, errors = 0;
  double seconds = 1, p50 = 0, p99 = 0;
  std::sscanf(out.c_str(), "requests %ld errors %ld seconds %lf p50_us %lf p99_us %lf", &requests, &errors, &seconds, &p50, &p99);
  if (requests == 0) std::fprintf(stderr, "bench_workload: no successful sign (load output: %s)\n", out.c_str());

  // The caller check without its memory: one `docker top` per request.
  pid_t some_pid = 1;
  double uncached = bench::rate(1, 2000ms, [&](int) {
    (void)edged::authorize_caller(docker, name, some_pid);
    return true;
  });

  std::printf("workload sign, %d clients in a module container, %d s\n", kClients, kSeconds);
  bench::row("workload POST .../sign (edged+identityd+keyd)", static_cast<double>(requests) / seconds, "keyd POST /sign HMAC direct", keyd_direct.rate, "req/s");
  bench::row("  p50 latency", p50, "keyd p50", keyd_direct.p50_us, "us");
  bench::row("  p99 latency", p99, "keyd p99", keyd_direct.p99_us, "us");
  std::printf("  non-200 answers or connection errors: %ld\n", errors);
  bench::row("caller check without memory (docker top)", uncached, "workload sign rate", static_cast<double>(requests) / seconds, "req/s");
  bench::row("aziot-edged PSS idle", static_cast<double>(pss_idle), "under sign load", static_cast<double>(pss_load), "KiB");

  (void)docker.remove_container(name, true);
  bench::stop(edged);
  bench::stop(identityd);
  bench::stop(certd);
  bench::stop(keyd);
  return 0;
}
