// `iotedge check` on configuration alone (no daemons): JSON shape, ids and statuses, texts,
// exit codes, --dont-run, --warnings-as-errors, certificate expiry, proxy settings.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/cli/check_support.h"
#include "tests/support/net.h"

using namespace edge::test;

TEST_CASE("check json lists every upstream id with its status when no daemon runs", "[check]") {
  CheckSandbox s;
  const std::string hub = private_loopback();
  s.apply(manual_sas_config(hub));
  auto r = s.check_json(s.base_flags());
  INFO(r.output);
  REQUIRE(r.json.is_object());
  CHECK(r.code == 1);
  // Top-level additional_info as upstream's iotedge check.
  for (const char* key : {"now", "os", "system_info", "docker_version", "aziot_edged_version"})
    CHECK(r.json["additional_info"].contains(key));
  CHECK(r.json["additional_info"]["aziot_edged_version"] == "1.5.0");
  for (const char* id : {"keyd-config-well-formed", "certd-config-well-formed", "tpmd-config-well-formed",
                         "identityd-config-well-formed", "configs-up-to-date", "hostname", "aziot-version",
                         "certs-preloaded", "aziot-edged-config-well-formed", "config-up-to-date",
                         "container-engine-uri", "aziot-edge-version", "container-engine-dns",
                         "container-engine-logrotate", "proxy-settings"})
    CHECK(result_of(r.json, id) == "ok");
  for (const char* id : {"keyd-running", "certd-running", "identityd-running", "host-connect-iothub-amqp"})
    CHECK(result_of(r.json, id) == "error");
  CHECK_THAT(details_of(r.json, "keyd-running"),
             Catch::Contains("Could not connect to keyd on unix://" + s.root + "/run/aziot/keyd.sock") &&
                 Catch::Contains("No such file or directory (os error 2)"));
  // Not applicable: manual SAS, no TPM, no parent, IPv6 not configured; --dont-run -> ignored.
  for (const char* id : {"tpmd-running", "identity-certificate-expiry", "host-connect-dps-endpoint",
                         "parent_hostname", "container-engine-ipv6", "host-local-time", "check-agent-image"})
    CHECK(result_of(r.json, id) == "ignored");
  // Depend on daemons that did not answer.
  for (const char* id : {"certs-read", "key-pairs-read", "certs-match-private-keys", "edge-ca-certificate-expiry"})
    CHECK(result_of(r.json, id) == "skipped");
  CHECK(r.json["checks"]["hostname"]["additional_info"]["config_hostname"] == "my-device");
  CHECK(r.json["checks"]["host-connect-iothub-https"]["additional_info"]["iothub_hostname"] == hub);
}

TEST_CASE("check text output uses upstream's marks sections and summary", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  auto r = run_cli("iotedge", "check " + s.base_flags(), s.env);
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK_THAT(r.output, Catch::Contains("Configuration checks (aziot-identity-service)\n"
                                       "---------------------------------------------\n"
                                       "\u221a keyd configuration is well-formed - OK\n"));
  CHECK_THAT(r.output, Catch::Contains("\u00d7 keyd is running - Error\n    Could not connect to keyd on unix://"));
  CHECK_THAT(r.output, Catch::Contains("\nConfiguration checks\n--------------------\n"
                                       "\u221a aziot-edged configuration is well-formed - OK\n"));
  CHECK_THAT(r.output, Catch::Contains("\nConnectivity checks (aziot-identity-service)\n"));
  CHECK_THAT(r.output, Catch::Contains("check(s) raised errors. Re-run with --verbose for more details."));
  CHECK_THAT(r.output, !Catch::Contains("caused by:"));
  auto v = run_cli("iotedge", "check --verbose " + s.base_flags(), s.env);
  CHECK_THAT(v.output, Catch::Contains("        caused by: No such file or directory (os error 2)"));
  CHECK_THAT(v.output, Catch::Contains("\u203c read all preloaded certificates from the Certificates Service - Warning\n"
                                       "    skipping because of previous failures\n"));
}

TEST_CASE("check reports a malformed identityd config and skips what depends on it", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  write_file(s.root + "/etc/aziot/identityd/config.d/00-super.toml", "hostname = \n[provisioning\n");
  auto r = s.check_json(s.base_flags());
  INFO(r.output);
  CHECK(r.code == 1);
  CHECK(result_of(r.json, "identityd-config-well-formed") == "error");
  CHECK(r.json["checks"]["identityd-config-well-formed"]["result"]["details"][0] ==
        "identityd's configuration file is not well-formed.");
  CHECK_THAT(details_of(r.json, "identityd-config-well-formed"), Catch::Contains("00-super.toml"));
  CHECK(result_of(r.json, "hostname") == "skipped");
  CHECK(result_of(r.json, "host-connect-iothub-mqtt") == "skipped");
  CHECK(result_of(r.json, "keyd-config-well-formed") == "ok");

  // A well-formed TOML file missing a required field.
  write_file(s.root + "/etc/aziot/identityd/config.d/00-super.toml", "homedir = \"/x\"\n");
  r = s.check_json(s.base_flags());
  CHECK_THAT(details_of(r.json, "identityd-config-well-formed"), Catch::Contains("missing field `hostname`"));

  // edged's config, non-verbose and verbose texts.
  write_file(s.root + "/etc/aziot/edged/config.d/00-super.toml", "agent = 3 = 4\n");
  r = s.check_json(s.base_flags());
  CHECK(r.json["checks"]["aziot-edged-config-well-formed"]["result"]["details"][0] ==
        "The IoT Edge daemon's configuration file is not well-formed.");
  CHECK(result_of(r.json, "container-engine-uri") == "skipped");
  r = s.check_json("--verbose " + s.base_flags());
  CHECK_THAT(details_of(r.json, "aziot-edged-config-well-formed"),
             Catch::StartsWith("The IoT Edge configuration is not well-formed.\nNote: In case of syntax errors"));
}

TEST_CASE("check flags stale service configs and a hostname that is not the device's", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  run("touch -d '+1 minute' " + shell_quote(s.root + "/etc/aziot/config.toml"));
  auto r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "configs-up-to-date") == "warning");
  CHECK(r.json["checks"]["configs-up-to-date"]["result"]["details"][0] ==
        "/etc/aziot/config.toml was modified after keyd's config\nYou must run 'iotedge config apply' to "
        "update keyd's config with the latest config.toml");
  CHECK(result_of(r.json, "config-up-to-date") == "warning");

  auto env = s.env;
  env["EDGE_CLI_HOSTNAME"] = "other-box";
  s.env = env;
  r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "hostname") == "error");
  CHECK_THAT(details_of(r.json, "hostname"),
             Catch::StartsWith("identityd config has hostname my-device but device reports hostname other-box."));

  // FQDN starting with the machine name is fine; an underscore breaks RFC 1035 -> warning.
  s.env["EDGE_CLI_HOSTNAME"] = "my_box";
  s.apply(manual_sas_config(private_loopback()).replace(0, 22, "hostname = \"my_box.lan\""));
  r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "hostname") == "warning");
  CHECK_THAT(details_of(r.json, "hostname"), Catch::Contains("which does not comply with RFC 1035"));
}

TEST_CASE("check dont-run and warnings-as-errors decide the exit code", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  // Leave out everything that needs a daemon or a hub: the rest passes -> exit 0.
  const std::string offline = s.base_flags() +
                              " keyd-running certd-running identityd-running host-connect-iothub-amqp"
                              " host-connect-iothub-https host-connect-iothub-mqtt edge-hub-server-cert-hostname";
  auto r = s.check_json(offline);
  INFO(r.output);
  CHECK(r.code == 0);
  CHECK(result_of(r.json, "keyd-running") == "ignored");
  CHECK(result_of(r.json, "edge-hub-server-cert-hostname") == "ignored");

  // A daemon.json without log rotation is a warning: exit 0, but 1 with --warnings-as-errors.
  write_file(s.dir / "daemon.json", R"({"dns": ["1.1.1.1"]})");
  r = s.check_json(offline);
  CHECK(r.code == 0);
  CHECK(result_of(r.json, "container-engine-logrotate") == "warning");
  CHECK_THAT(details_of(r.json, "container-engine-logrotate"),
             Catch::StartsWith("Container engine is not configured to rotate module logs"));
  r = s.check_json("--warnings-as-errors " + offline);
  CHECK(r.code == 1);
  CHECK(result_of(r.json, "container-engine-logrotate") == "error");

  // journald needs no rotation options; a missing daemon.json is a warning naming the file.
  write_file(s.dir / "daemon.json", R"({"dns": ["1.1.1.1"], "log-driver": "journald"})");
  CHECK(result_of(s.check_json(offline).json, "container-engine-logrotate") == "ok");
  ::unlink((s.dir / "daemon.json").c_str());
  r = s.check_json(offline);
  CHECK(result_of(r.json, "container-engine-dns") == "warning");
  CHECK_THAT(details_of(r.json, "container-engine-dns"),
             Catch::Contains("Could not open container engine config file " + s.dir / "daemon.json"));

  // A usage error is exit 2, before any check runs.
  auto bad = run_cli("iotedge", "check -o yaml", s.env);
  CHECK(bad.code == 2);
  CHECK_THAT(bad.output, Catch::Contains("[possible values: json, text]"));
}

TEST_CASE("check warns on identity certificates about to expire and fails expired ones", "[check]") {
  CheckSandbox s;
  run("mkdir -p " + shell_quote(s.root + "/certs"));
  const std::string hub = private_loopback();
  auto config = [&](const std::string& cert) {
    return "hostname = \"my-device\"\n[provisioning]\nsource = \"manual\"\niothub_hostname = \"" + hub +
           "\"\ndevice_id = \"dev1\"\n[provisioning.authentication]\nmethod = \"x509\"\n"
           "identity_cert = \"file:///certs/" + cert + "\"\nidentity_pk = \"file:///certs/" + cert + ".key\"\n";
  };
  make_cert(s.root + "/certs/soon.pem", "dev1", -3600, 2 * 86400 + 600);
  s.apply(config("soon.pem"));
  auto r = s.check_json(s.base_flags());
  INFO(r.output);
  CHECK(result_of(r.json, "identity-certificate-expiry") == "warning");
  CHECK_THAT(details_of(r.json, "identity-certificate-expiry"),
             Catch::StartsWith("Manual identity 'device-id' will expire soon (") && Catch::Contains(", in 2 days)"));
  CHECK(r.json["checks"]["identity-certificate-expiry"]["additional_info"]["provisioning_mode"] == "manual-x509");
  CHECK(result_of(r.json, "certs-preloaded") == "warning");

  make_cert(s.root + "/certs/old.pem", "dev1", -10 * 86400, -86400);
  s.apply(config("old.pem"));
  r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "identity-certificate-expiry") == "error");
  CHECK_THAT(details_of(r.json, "identity-certificate-expiry"), Catch::StartsWith("Manual identity 'device-id' expired at "));

  make_cert(s.root + "/certs/good.pem", "dev1", -3600, 365 * 86400);
  s.apply(config("good.pem"));
  r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "identity-certificate-expiry") == "ok");
  CHECK(r.json["checks"]["identity-certificate-expiry"]["additional_info"]["certificate_info"]["cert_id"] == "device-id");

  // Garbage instead of a certificate.
  write_file(s.root + "/certs/good.pem", "not a certificate");
  r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "identity-certificate-expiry") == "error");
  CHECK_THAT(details_of(r.json, "identity-certificate-expiry"), Catch::Contains("as a valid .pem"));
}

TEST_CASE("check compares https_proxy of the agent dockerd identityd and edged", "[check]") {
  CheckSandbox s;
  const std::string proxy = "http://127.0.0.1:3128";
  s.apply(manual_sas_config(private_loopback()) + "[agent.env]\nhttps_proxy = \"" + proxy + "\"\n");
  auto dropin = [&](const std::string& unit, const std::string& value) {
    run("mkdir -p " + shell_quote(s.root + "/etc/systemd/system/" + unit + ".d"));
    write_file(s.root + "/etc/systemd/system/" + unit + ".d/http-proxy.conf",
               "[Service]\nEnvironment=\"https_proxy=" + value + "\"\n");
  };
  dropin("docker.service", proxy);
  dropin("aziot-identityd.service", proxy);
  dropin("aziot-edged.service", proxy);
  auto r = s.check_json(s.base_flags());
  INFO(r.output);
  CHECK(result_of(r.json, "proxy-settings") == "ok");
  CHECK(r.json["checks"]["proxy-settings"]["additional_info"]["moby"] == proxy);

  dropin("docker.service", "http://127.0.0.1:9999");
  r = s.check_json(s.base_flags());
  CHECK(result_of(r.json, "proxy-settings") == "warning");
  CHECK(r.json["checks"]["proxy-settings"]["result"]["details"][0] ==
        "The proxy setting for IoT Edge Agent \"" + proxy + "\", IoT Edge Daemon \"" + proxy +
            "\", IoT Identity Daemon \"" + proxy + "\", and Moby \"http://127.0.0.1:9999\" may need to be identical.");
}

TEST_CASE("check host-local-time asks the given NTP server", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  std::string flags = s.base_flags();
  flags.replace(flags.find("--dont-run host-local-time"), 26, "--dont-run");
  for (long skew : {0L, 120L}) {
    edge::test::SntpServer ntp(skew);  // a clock `skew` seconds off
    auto r = s.check_json("--ntp-server 127.0.0.1:" + std::to_string(ntp.port()) + " " + flags);
    INFO(r.output);
    CHECK(result_of(r.json, "host-local-time") == (skew ? "warning" : "ok"));
    if (skew) CHECK_THAT(details_of(r.json, "host-local-time"), Catch::StartsWith("Time on the device is out of sync"));
  }
}

TEST_CASE("check compares the edge hub's server certificate with the configured hostname", "[check]") {
  CheckSandbox s;
  const std::string address = private_loopback();
  std::string config = manual_sas_config(private_loopback());
  config.replace(0, 22, "hostname = \"" + address + "\"");
  s.apply(config);
  auto flags = s.base_flags() + " keyd-running certd-running identityd-running host-connect-iothub-amqp"
                                " host-connect-iothub-https host-connect-iothub-mqtt";
  // Nothing answers TLS on the hostname: not applicable.
  CHECK(result_of(s.check_json(flags).json, "edge-hub-server-cert-hostname") == "ignored");
  for (const std::string& cn : {std::string("old-name"), address}) {
    make_cert(s.dir / "hub.pem", cn, -3600, 86400 * 30);
    Process server({"/usr/bin/openssl", "s_server", "-quiet", "-accept", address + ":8883", "-cert", s.dir / "hub.pem",
                    "-key", s.dir / "hub.pem.key"},
                   {}, s.dir / "s_server.log");
    for (int i = 0; i < 100 && run("bash -c 'exec 3<>/dev/tcp/" + address + "/8883' 2>/dev/null") != 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto r = s.check_json(flags);
    INFO(r.output);
    if (cn == address) {
      CHECK(result_of(r.json, "edge-hub-server-cert-hostname") == "ok");
    } else {
      CHECK(result_of(r.json, "edge-hub-server-cert-hostname") == "warning");
      CHECK_THAT(details_of(r.json, "edge-hub-server-cert-hostname"),
                 Catch::StartsWith("The edge hub's server certificate on " + address + ":8883 has common name \"old-name\""));
    }
    server.stop();
  }
}

TEST_CASE("aziotctl check runs the identity checks alone and check-list lists every id", "[check]") {
  CheckSandbox s;
  const std::string hub = private_loopback();
  s.apply(manual_sas_config(hub));
  auto r = run_cli("aziotctl", "check -o json --expected-aziot-version 1.5.0 --dont-run host-local-time", s.env);
  INFO(r.output);
  auto pos = r.output.find("{\"additional_info\"");
  REQUIRE(pos != std::string::npos);
  Json j = Json::parse(r.output.substr(pos, r.output.find('\n', pos) - pos));
  CHECK(j["additional_info"]["iothub_hostname"] == hub);
  CHECK(result_of(j, "identityd-config-well-formed") == "ok");
  CHECK(result_of(j, "aziot-edged-config-well-formed") == "<absent>");
  auto text = run_cli("aziotctl", "check --expected-aziot-version 1.5.0 --dont-run host-local-time", s.env);
  CHECK_THAT(text.output, Catch::Contains("Configuration checks\n--------------------\n\u221a keyd configuration is well-formed - OK"));

  auto list = run_cli("iotedge", "check-list", s.env);
  CHECK(list.code == 0);
  CHECK_THAT(list.output, Catch::StartsWith("CATEGORY"));
  for (const char* id : {"keyd-config-well-formed", "host-connect-dps-endpoint", "container-engine-logrotate",
                         "container-connect-upstream-mqtt", "edge-ca-certificate-expiry", "proxy-settings"})
    CHECK_THAT(list.output, Catch::Contains(id));
  CHECK_THAT(list.output, Catch::Contains("Configuration checks (aziot-identity-service) keyd-config-well-formed"));
}

TEST_CASE("check stops at a fatal result when configs are not readable", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()));
  ::chmod(s.root.c_str(), 0755);
  ::chmod((s.root + "/etc/aziot/keyd/config.d/00-super.toml").c_str(), 0600);
  ::chmod(s.dir.path().c_str(), 0755);
  // A copy uid 65534 can reach: the checkout itself may sit below a directory only root enters.
  std::string iotedge = s.dir / "iotedge";
  REQUIRE(run("cp " + shell_quote(bin("iotedge")) + " " + shell_quote(iotedge) + " && chmod 0755 " + shell_quote(iotedge)) == 0);
  std::string cmd = "env";
  for (const auto& [k, v] : s.env) cmd += " " + k + "=" + shell_quote(v);
  std::string out;
  int code = run("setpriv --reuid=65534 --regid=65534 --clear-groups " + cmd + " " + shell_quote(iotedge) +
                     " check -o json " + s.base_flags() + " 2>&1",
                 &out);
  INFO(out);
  CHECK(code == 1);
  auto pos = out.find("{\"additional_info\"");
  REQUIRE(pos != std::string::npos);
  Json j = Json::parse(out.substr(pos, out.find('\n', pos) - pos));
  CHECK(result_of(j, "keyd-config-well-formed") == "fatal");
  CHECK(j["checks"]["keyd-config-well-formed"]["result"]["details"][0] ==
        "Could not open file. You might need to run this command as root.");
  // Nothing runs after a fatal result.
  CHECK(result_of(j, "certd-config-well-formed") == "<absent>");
  CHECK(j["checks"].size() == 1);
}

TEST_CASE("check reports a container engine that does not answer and skips the checks needing it", "[check]") {
  CheckSandbox s;
  s.apply(manual_sas_config(private_loopback()) + "[moby_runtime]\nuri = \"unix://" + s.dir.path() +
          "/no-docker.sock\"\nnetwork = \"azure-iot-edge\"\n");
  std::string flags = s.base_flags(true);
  auto r = s.check_json(flags);
  INFO(r.output);
  CHECK(result_of(r.json, "container-engine-uri") == "error");
  CHECK_THAT(details_of(r.json, "container-engine-uri"),
             Catch::StartsWith("Could not communicate with container engine at unix://" + s.dir.path() +
                               "/no-docker.sock.\nPlease check your moby-engine installation"));
  for (const char* id : {"connect-management-uri", "container-local-time", "edge-agent-storage-mounted-from-host",
                         "container-connect-upstream-mqtt"})
    CHECK(result_of(r.json, id) == "skipped");
  s.apply(manual_sas_config(private_loopback()) + "[moby_runtime]\nuri = \"tcp://127.0.0.1:2375\"\n");
  r = s.check_json(flags);
  CHECK(r.json["checks"]["container-engine-uri"]["result"]["details"][0] ==
        "Could not communicate with container engine at tcp://127.0.0.1:2375. The scheme tcp is invalid.");
}
