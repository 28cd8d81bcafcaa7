// A sandbox for `iotedge check`: service configs made by `iotedge config apply --output-dir`
// installed under a temporary EDGE_CLI_ROOT, and helpers to run the check and read its JSON.
#pragma once
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <string>

#include "common/http/message.h"
#include "tests/cli/cli_support.h"

namespace edge::test {

using Json = http::Json;

// 127.a.b.c, different per call (tests run in parallel).
inline std::string private_loopback() {
  static std::random_device rd;
  return "127." + std::to_string(20 + rd() % 200) + "." + std::to_string(rd() % 250 + 1) + "." +
         std::to_string(rd() % 250 + 1);
}

inline std::string manual_sas_config(const std::string& hub, const std::string& extra = "") {
  return "hostname = \"my-device\"\n" + extra +
         "\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=" + hub +
         ";DeviceId=dev1;SharedAccessKey=c2VjcmV0LWtleS1vZi10aGUtY2hlY2stdGVzdHM=\"\n"
         "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = "
         "\"iotedge-lite/edge-agent:1.5\"\n";
}

// A self-signed EC certificate valid from now+`from_s` to now+`to_s` seconds, written as PEM.
inline void make_cert(const std::string& path, const std::string& cn, long from_s, long to_s) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), from_s);
  X509_gmtime_adj(X509_getm_notAfter(x), to_s);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  FILE* f = std::fopen(path.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  FILE* k = std::fopen((path + ".key").c_str(), "w");
  PEM_write_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(k);
  X509_free(x);
  EVP_PKEY_free(key);
}

struct CheckSandbox {
  TempDir dir;
  std::string root = dir / "root";
  std::map<std::string, std::string> env;

  CheckSandbox() {
    env = fixture_env();
    env["EDGE_CLI_ROOT"] = root;
    write_file(dir / "daemon.json",
               R"({"dns": ["1.1.1.1"], "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}})");
  }

  // config apply --output-dir, then the outputs installed where the services read them.
  void apply(const std::string& super_config) {
    write_file(dir / "config.toml", super_config);
    auto r = run_cli("iotedge", "config apply -c " + shell_quote(dir / "config.toml") +
                                    " --output-dir " + shell_quote(dir / "out"), env);
    INFO(r.output);
    REQUIRE(r.code == 0);
    for (std::string d : {"keyd", "certd", "identityd", "tpmd", "edged"}) {
      run("mkdir -p " + shell_quote(root + "/etc/aziot/" + d + "/config.d"));
      REQUIRE(run("cp " + shell_quote(dir / "out/" + d + ".toml") + " " +
                  shell_quote(root + "/etc/aziot/" + d + "/config.d/00-super.toml")) == 0);
    }
    write_file(root + "/etc/aziot/config.toml", super_config);
    run("touch -d '-1 minute' " + shell_quote(root + "/etc/aziot/config.toml"));
    run("mkdir -p " + shell_quote(root + "/var/secrets/aziot/keyd"));
    if (file_exists(dir / "out/device-id"))
      run("cp " + shell_quote(dir / "out/device-id") + " " + shell_quote(root + "/var/secrets/aziot/keyd/device-id"));
  }

  // Flags that keep a run offline and deterministic: pinned versions, our aziot-edged, a
  // local daemon.json; the container checks are left out unless `with_containers`.
  std::string base_flags(bool with_containers = false) const {
    std::string f = "--expected-aziot-version 1.5.0 --expected-aziot-edged-version 1.5.0 --aziot-edged " +
                    shell_quote(bin("aziot-edged")) + " --container-engine-config-file " +
                    shell_quote(dir / "daemon.json") + " --dont-run host-local-time check-agent-image";
    if (!with_containers)
      f += " container-resolve-parent-hostname connect-management-uri container-local-time"
           " edge-agent-storage-mounted-from-host edge-hub-storage-mounted-from-host"
           " container-default-connect-upstream-amqp container-default-connect-upstream-https"
           " container-default-connect-upstream-mqtt container-connect-upstream-amqp"
           " container-connect-upstream-https container-connect-upstream-mqtt";
    return f;
  }

  struct Run {
    int code;
    std::string output;
    Json json;
  };
  // `iotedge check -o json <args>`; the JSON document is the line starting with '{'.
  Run check_json(const std::string& args, const std::map<std::string, std::string>& extra_env = {}) {
    auto e = env;
    for (const auto& [k, v] : extra_env) e[k] = v;
    auto r = run_cli("iotedge", "check -o json " + args, e);
    Run out{r.code, r.output, Json()};
    size_t pos = r.output.find("{\"additional_info\"");
    if (pos != std::string::npos) out.json = Json::parse(r.output.substr(pos, r.output.find('\n', pos) - pos), nullptr, false);
    return out;
  }
};

inline std::string result_of(const Json& j, const std::string& id) {
  if (!j.is_object() || !j.contains("checks") || !j["checks"].contains(id)) return "<absent>";
  return j["checks"][id]["result"]["result"].get<std::string>();
}

inline std::string details_of(const Json& j, const std::string& id) {
  if (!j.is_object() || !j.contains("checks") || !j["checks"].contains(id)) return "";
  const Json& r = j["checks"][id]["result"];
  std::string all;
  if (r.contains("details"))
    for (const auto& d : r["details"]) all += d.get<std::string>() + "\n";
  return all;
}

}  // namespace edge::test
