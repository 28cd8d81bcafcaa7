// `iotedge check` against the real identity daemons (keyd, certd, identityd) started in the
// sandbox on the sockets their configs name: daemons answering, preloaded certs and keys read
// through them, certs matching keys, the Edge CA's expiry read through certd.
#include "tests/cli/check_support.h"

using namespace edge::test;

namespace {

struct SandboxDaemons {
  CheckSandbox& s;
  std::string run_dir = s.root + "/run/aziot";
  std::vector<std::unique_ptr<Process>> processes;

  // `keyd_extra` / `certd_extra` are more TOML for the sandbox drop-ins (preloaded items).
  SandboxDaemons(CheckSandbox& sandbox, const std::string& keyd_extra, const std::string& certd_extra)
      : s(sandbox) {
    run("mkdir -p " + shell_quote(run_dir));
    const std::string endpoints = "[endpoints]\naziot_keyd = \"unix://" + run_dir + "/keyd.sock\"\naziot_certd = \"unix://" +
                                  run_dir + "/certd.sock\"\n";
    write_file(s.root + "/etc/aziot/keyd/config.d/50-sandbox.toml",
               "[aziot_keys]\nhomedir_path = \"" + s.dir.path() + "/keyd-home\"\n[preloaded_keys]\ndevice-id = \"file://" +
                   s.root + "/var/secrets/aziot/keyd/device-id\"\n" + keyd_extra + "\n[endpoints]\naziot_keyd = \"unix://" +
                   run_dir + "/keyd.sock\"\n");
    write_file(s.root + "/etc/aziot/certd/config.d/50-sandbox.toml",
               "homedir_path = \"" + s.dir.path() + "/certd-home\"\n" + certd_extra + "\n" + endpoints);
    write_file(s.root + "/etc/aziot/identityd/config.d/50-sandbox.toml",
               "homedir = \"" + s.dir.path() + "/identityd-home\"\n" + endpoints + "aziot_identityd = \"unix://" +
                   run_dir + "/identityd.sock\"\n");
    start("aziot-keyd", "KEYD", "keyd");
    start("aziot-certd", "CERTD", "certd");
    start("aziot-identityd", "IDENTITYD", "identityd");
  }
  void start(const std::string& program, const std::string& var, const std::string& name) {
    std::map<std::string, std::string> env{
        {"AZIOT_" + var + "_CONFIG", s.root + "/etc/aziot/" + name + "/config.toml"},
        {"AZIOT_" + var + "_CONFIG_DIR", s.root + "/etc/aziot/" + name + "/config.d"}};
    processes.push_back(std::make_unique<Process>(std::vector<std::string>{bin(program)}, env, s.dir / (name + ".log")));
    bool up = wait_for_socket(run_dir + "/" + name + ".sock");
    INFO(read_file(s.dir / (name + ".log")));
    REQUIRE(up);
  }
};

const char* kNoNetwork =
    " host-connect-iothub-amqp host-connect-iothub-https host-connect-iothub-mqtt edge-hub-server-cert-hostname";

}  // namespace

TEST_CASE("check sees the identity daemons answer and reads preloaded certs and keys through them", "[check][daemons]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  run("mkdir -p " + shell_quote(s.root + "/pki"));
  make_cert(s.root + "/pki/ca.pem", "aziot-edge CA dev1", -3600, 3 * 86400 + 600);
  make_cert(s.root + "/pki/other.pem", "other", -3600, 3 * 86400);
  const std::string key_line = "aziot-edged-ca = \"file://" + s.root + "/pki/ca.pem.key\"\n";
  const std::string cert_line = "[preloaded_certs]\naziot-edged-ca = \"file://" + s.root + "/pki/ca.pem\"\n";
  {
    SandboxDaemons d(s, key_line, cert_line);
    auto r = s.check_json(s.base_flags() + kNoNetwork);
    INFO(r.output);
    for (const char* id : {"keyd-running", "certd-running", "identityd-running", "certs-read", "key-pairs-read",
                           "certs-match-private-keys", "est-server-https"})
      CHECK(result_of(r.json, id) == "ok");
    CHECK(result_of(r.json, "tpmd-running") == "ignored");
    // Our addition: the Edge CA, read through certd, expires in 3 days.
    CHECK(result_of(r.json, "edge-ca-certificate-expiry") == "warning");
    CHECK_THAT(details_of(r.json, "edge-ca-certificate-expiry"),
               Catch::StartsWith("Edge CA 'aziot-edged-ca' will expire soon (") && Catch::Contains("in 3 days)"));
    CHECK(r.json["checks"]["edge-ca-certificate-expiry"]["additional_info"]["certificate_info"]["cert_id"] ==
          "aziot-edged-ca");
    CHECK(result_of(r.json, "certs-preloaded") == "warning");
    CHECK(r.code == 0);
    CHECK(s.check_json("--warnings-as-errors " + s.base_flags() + kNoNetwork).code == 1);
  }
  {
    // A key that does not belong to the certificate.
    SandboxDaemons d(s, "aziot-edged-ca = \"file://" + s.root + "/pki/other.pem.key\"\n", cert_line);
    auto r = s.check_json(s.base_flags() + kNoNetwork);
    INFO(r.output);
    CHECK(result_of(r.json, "certs-match-private-keys") == "error");
    CHECK(r.json["checks"]["certs-match-private-keys"]["result"]["details"][0] ==
          "preloaded cert with ID \"aziot-edged-ca\" does not match preloaded private key with ID \"aziot-edged-ca\"");
    CHECK(r.code == 1);
  }
  {
    // A preloaded cert that certd cannot read.
    SandboxDaemons d(s, "", "[preloaded_certs]\nbroken = \"file://" + s.root + "/pki/missing.pem\"\n");
    auto r = s.check_json(s.base_flags() + kNoNetwork);
    INFO(r.output);
    CHECK(result_of(r.json, "certs-read") == "error");
    CHECK_THAT(details_of(r.json, "certs-read"), Catch::Contains("could not load cert with ID \"broken\""));
    CHECK(result_of(r.json, "certs-preloaded") == "error");
    CHECK(result_of(r.json, "edge-ca-certificate-expiry") == "ignored");  // not issued yet
  }
}
