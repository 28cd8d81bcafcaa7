// A nested IoT Edge pair on one machine, as seed 001 sets it up: a parent with `hostname` and a
// full-chain Edge CA (root -> intermediate -> Edge CA), a child with `parent_hostname` and
// `trust_bundle_cert` = the shared root, each in its own network namespace joined by a veth.
// The parent's edged issues a server certificate for its hostname through the workload API (its
// agent container asks, as the edge hub would); Debian's docker-registry serves TLS with it in
// the parent's namespace. The child's edged resolves `$upstream` in its agent image to the parent
// and the machine's Docker engine pulls the agent through the parent's registry once it trusts
// the root; `openssl s_client` from the child's namespace verifies the parent, and fails with a
// wrong CA or a wrong name.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "edged/docker.h"
#include "tests/nested/device.h"
#include "tests/nested/netns.h"
#include "tests/nested/sweep.h"

using edge::http::Json;
using edge::test::read_file;
using edge::test::run;
using edge::test::write_file;
using namespace nested_test;

namespace {
bool wait_until(const std::function<bool()>& f, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return f();
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// `text` with every {NAME} placeholder replaced.
std::string fill(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values)
    for (auto at = text.find(name); at != std::string::npos;
         at = text.find(name, at + value.size()))
      text.replace(at, name.size(), value);
  return text;
}

void sh(const std::string& command) {
  std::string out;
  INFO(command);
  int rc = run(command + " 2>&1", &out);
  INFO(out);
  REQUIRE(rc == 0);
}

// The shared root, an intermediate and the parent's Edge CA (full chain, as seed 001), plus an
// unrelated root for the negative checks. EC keys: quick to make.
void make_pki(const edge::test::TempDir& pki) {
  write_file(pki / "ext.cnf",
             "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,"
             "digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
  auto root = [&](const std::string& name, const std::string& cn) {
    sh("cd " + pki.path() + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 " +
       "-nodes -keyout " + name + ".key -out " + name + ".pem -days 2 -subj '/CN=" + cn +
       "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
  };
  auto sign = [&](const std::string& name, const std::string& cn, const std::string& issuer) {
    sh("cd " + pki.path() + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes " +
       "-keyout " + name + ".key -out " + name + ".csr -subj '/CN=" + cn + "' && openssl x509 " +
       "-req -in " + name + ".csr -CA " + issuer + ".pem -CAkey " + issuer + ".key " +
       "-CAcreateserial -out " + name + ".pem -days 2 -extfile ext.cnf -extensions ca");
  };
  root("root", "Nested Test Root CA");
  sign("int", "Nested Test Intermediate CA", "root");
  sign("edge", "Nested Test Parent Edge CA", "int");
  sh("cd " + pki.path() + " && cat edge.pem int.pem > edge-chain.pem");
  root("wrong-root", "Nested Test Unrelated Root CA");
}

std::string manual_provisioning(const std::string& device) {
  // The hub is never reached: the namespaces have no route out, and nothing here needs it.
  // No retries of failed cloud calls: edged's agent-identity update then fails at once.
  return "cloud_retries = 0\n[provisioning]\nsource = \"manual\"\nconnection_string = "
         "\"HostName=127.0.0.1;DeviceId=" +
         device + ";SharedAccessKey=bmVzdGVkLXRlc3Qta2V5LW5vdC11c2Vk\"\n";
}

std::string sockets(const Device& d) {
  std::string t;
  for (const char* section : {"connect", "listen"})
    t += std::string("[") + section + "]\nworkload_uri = \"unix://" + d.sock("workload") +
         "\"\nmanagement_uri = \"unix://" + d.sock("mgmt") + "\"\n";
  return t;
}

// The HTTP body of a raw response that uds-request printed.
Json http_body(const std::string& raw) {
  auto pos = raw.find("\r\n\r\n");
  return pos == std::string::npos ? Json() : Json::parse(raw.substr(pos + 4), nullptr, false);
}

// Whether docker-registry's access log (`<client> - - [time] "GET /v2/<path> HTTP/1.1" 200 ...`)
// shows `client` requesting `path` with one of `methods` successfully.
bool registry_served(const std::string& log, const std::string& client,
                     std::initializer_list<const char*> methods, const std::string& path) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with(client + " ")) continue;
    for (const char* m : methods) {
      auto at = line.find("\"" + std::string(m) + " " + path + " HTTP/");  // 1.1 or 2.0
      auto end = at == std::string::npos ? at : line.find("\" ", at + 1);
      if (end != std::string::npos && line.compare(end + 2, 4, "200 ") == 0) return true;
    }
  }
  return false;
}

std::string iso8601_in(std::chrono::hours h) {
  std::time_t t = std::time(nullptr) + std::chrono::duration_cast<std::chrono::seconds>(h).count();
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Removes this test's containers (by scope label), networks and image tags, even on failure.
struct DockerCleanup {
  edged::docker::Client docker;
  std::vector<std::string> scopes, networks, images;
  ~DockerCleanup() {
    for (const auto& scope : scopes)
      for (const auto& c : docker.list_containers({scope}).value_or(std::vector<Json>{}))
        (void)docker.remove_container(c.value("Id", ""), true);
    for (const auto& n : networks) (void)docker.remove_network(n);
    for (const auto& i : images) (void)docker.remove_image(i);  // an untag: the layers stay
  }
};
}  // namespace

TEST_CASE("nested child pulls its agent through the parent and verifies the parent over TLS",
          "[e2e][docker][netns]") {
  if (::geteuid() != 0) {
    WARN("needs root (ip netns, /etc/docker/certs.d): skipped");
    return;
  }
  auto t0 = std::chrono::steady_clock::now();
  sweep_stale_runs();
  std::string s =
      std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}() % 100000);
  DockerCleanup cleanup;  // declared first: runs after the devices have stopped
  NestedNet net;
  const std::string P = net.parent_ip();
  edge::test::TempDir pki;
  make_pki(pki);

  Device parent("parent", net.parent_ns(), "nested.test.scope=" + s + "-parent");
  Device child("child", net.child_ns(), "nested.test.scope=" + s + "-child");
  std::string parent_agent = "nested-parent-agent-" + s, child_agent = "nested-child-agent-" + s;
  std::string repo = "nested-" + s + "/agent", tag = "t" + s;
  std::string image = P + ":5000/" + repo + ":" + tag;
  cleanup.scopes = {"nested.test.scope=" + s + "-parent", "nested.test.scope=" + s + "-child"};
  cleanup.networks = {"nested-parent-net-" + s, "nested-child-net-" + s};
  cleanup.images = {image};

  // The parent's agent acts as its edge hub: it asks edged's workload API for a server cert for
  // the device hostname (EdgeDeviceHostName) and keeps running.
  std::string share = parent.dir / "share";
  std::filesystem::create_directories(share);
  sh(std::string("cp ") + UDS_REQUEST + " " + share + "/uds-request");
  write_file(share + "/issue.sh",
             fill(R"(sock=${IOTEDGE_WORKLOADURI#unix://}
body="{\"commonName\":\"$EdgeDeviceHostName\",\"expiration\":\"{EXPIRY}\"}"
/share/uds-request "$sock" POST "/modules/{AGENT}/genid/${IOTEDGE_MODULEGENERATIONID:-0}/certificate/server?api-version=2019-01-30" "$body" > /share/server.tmp
mv /share/server.tmp /share/server.http
trap 'exit 0' TERM
sleep 3600 & wait
)",
                  {{"{AGENT}", parent_agent}, {"{EXPIRY}", iso8601_in(std::chrono::hours(24))}}));
  // Seed 001's parent: hostname, the full-chain Edge CA and the shared root as trust bundle.
  parent.apply(fill(R"(hostname = "{P}"
trust_bundle_cert = "file://{PKI}/root.pem"
{PROVISIONING}
[edge_ca]
cert = "file://{PKI}/edge-chain.pem"
pk = "file://{PKI}/edge.key"

[agent]
name = "{AGENT}"
type = "docker"
imagePullPolicy = "never"
[agent.config]
image = "edge-test-busybox:1"
createOptions = { Cmd = ["/bin/sh", "/share/issue.sh"], HostConfig = { Binds = ["{SHARE}:/share"] } }

[moby_runtime]
uri = "unix:///var/run/docker.sock"
network = "nested-parent-net-{S}"
{SOCKETS})",
                    {{"{P}", P},
                     {"{PKI}", pki.path()},
                     {"{PROVISIONING}", manual_provisioning("parent-" + s)},
                     {"{AGENT}", parent_agent},
                     {"{SHARE}", share},
                     {"{S}", s},
                     {"{SOCKETS}", sockets(parent)}}));
  // Seed 001's child: parent_hostname, the shared root, and the agent image from $upstream.
  child.apply(fill(R"(hostname = "{C}"
parent_hostname = "{P}"
trust_bundle_cert = "file://{PKI}/root.pem"
{PROVISIONING}
[agent]
name = "{AGENT}"
type = "docker"
[agent.config]
image = "$upstream:5000/{REPO}:{TAG}"
createOptions = { Cmd = ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"] }

[moby_runtime]
uri = "unix:///var/run/docker.sock"
network = "nested-child-net-{S}"
{SOCKETS})",
                   {{"{C}", net.child_ip()},
                    {"{P}", P},
                    {"{PKI}", pki.path()},
                    {"{PROVISIONING}", manual_provisioning("child-" + s)},
                    {"{AGENT}", child_agent},
                    {"{REPO}", repo},
                    {"{TAG}", tag},
                    {"{S}", s},
                    {"{SOCKETS}", sockets(child)}}));
  // config apply carried parent_hostname to identityd (where edged learns its gateway).
  CHECK_THAT(read_file(child.dir / "out/identityd.toml"),
             Catch::Contains("local_gateway_hostname = \"" + P + "\""));
  CHECK_THAT(read_file(child.dir / "out/edged.toml"),
             Catch::Contains("image = \"$upstream:5000/" + repo + ":" + tag + "\""));

  parent.start_identity_services();
  child.start_identity_services();
  parent.start_edged();

  // 1. The parent's server certificate, from the real workload path.
  bool issued =
      wait_until([&] { return exists(share + "/server.http"); }, std::chrono::seconds(30));
  INFO(parent.log("edged") << parent.log("certd"));
  REQUIRE(issued);
  std::string raw = read_file(share + "/server.http");
  INFO(raw);
  REQUIRE_THAT(raw, Catch::StartsWith("HTTP/1.1 201"));
  Json server = http_body(raw);
  std::string chain = server["certificate"], key = server["privateKey"]["bytes"];
  std::string reg = parent.dir / "registry";
  std::filesystem::create_directories(reg);
  write_file(reg + "/server-chain.pem", chain);
  write_file(reg + "/server.key", key, 0600);
  std::string subject;
  run("openssl x509 -in " + reg + "/server-chain.pem -noout -subject -ext subjectAltName " +
          "-nameopt RFC2253",
      &subject);
  CHECK_THAT(subject, Catch::Contains("subject=CN=" + P) && Catch::Contains("IP Address:" + P));

  // 2. docker-registry with that certificate, in the parent's namespace.
  write_file(reg + "/config.yml", fill(R"(version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {REG}/data
http:
  addr: :5000
  tls:
    certificate: {REG}/server-chain.pem
    key: {REG}/server.key
)",
                                       {{"{REG}", reg}}));
  edge::test::Process registry({"/bin/ip", "netns", "exec", net.parent_ns(),
                                "/usr/bin/docker-registry", "serve", reg + "/config.yml"},
                               {}, reg + "/registry.log");
  // Reachable from the child's namespace over TLS that verifies against the shared root.
  std::string code;
  bool up = wait_until(
      [&] {
        run(net.in(net.child_ns()) + "curl -s -o /dev/null -w '%{http_code}' --cacert " +
                pki / "root.pem" + " https://" + P + ":5000/v2/",
            &code);
        return code == "200";
      },
      std::chrono::seconds(20));
  INFO(read_file(reg + "/registry.log"));
  REQUIRE(up);

  // 3. Seed 001's check from the child: s_client with the child's trust bundle (its certd's
  // aziot-edged-trust-bundle: its own Edge CA + trust_bundle_cert) verifies the whole chain.
  write_file(child.dir / "trust-bundle.pem", child.certificate("aziot-edged-trust-bundle"));
  auto s_client = [&](const std::string& ca_file, const std::string& extra, std::string& out) {
    return run("echo | " + net.in(net.child_ns()) + "openssl s_client -connect " + P +
                   ":5000 -CAfile " + ca_file + " -verify_return_error " + extra + " 2>&1",
               &out);
  };
  std::string out;
  CHECK(s_client(child.dir / "trust-bundle.pem", "-verify_ip " + P, out) == 0);
  CHECK_THAT(out, Catch::Contains("depth=3 CN = Nested Test Root CA") &&
                      Catch::Contains("depth=2 CN = Nested Test Intermediate CA") &&
                      Catch::Contains("depth=1 CN = Nested Test Parent Edge CA") &&
                      Catch::Contains("depth=0 CN = " + P) &&
                      Catch::Contains("Verify return code: 0 (ok)"));
  // A CA the parent's chain does not lead to: the handshake fails.
  CHECK(s_client(pki / "wrong-root.pem", "", out) != 0);
  CHECK_THAT(out, Catch::Contains("unable to get local issuer certificate"));
  // The right CA but another name than the certificate's: fails too.
  CHECK(s_client(child.dir / "trust-bundle.pem", "-verify_hostname other-parent.example", out) !=
        0);
  CHECK_THAT(out, Catch::Contains("hostname mismatch"));

  // 4. The child's edged, before the engine trusts the parent's registry: the pull of the
  // resolved image is refused on the certificate. Then it is stopped while the admin fixes that.
  child.start_edged();
  bool refused = wait_until(
      [&] {
        return child.log("edged").find("Failed to pull Edge runtime module") != std::string::npos;
      },
      std::chrono::seconds(30));
  INFO(child.log("edged"));
  REQUIRE(refused);
  CHECK_THAT(child.log("edged"), Catch::Contains(image) && Catch::Contains("x509"));
  child.stop_edged();

  // 5. The engine trusts the root for <parent>:5000 only. The agent image, made for this run
  // (busybox + a label of its own), goes into the parent's registry and is then deleted from
  // the engine, so the child can only get it from the parent.
  std::filesystem::copy_file(pki / "root.pem", net.docker_certs_dir() + "/ca.crt");
  std::string ctx = parent.dir / "image";
  std::filesystem::create_directories(ctx);
  write_file(ctx + "/Dockerfile",
             "FROM edge-test-busybox:1\nLABEL net.azure-devices.edge.test.nested=\"" + s + "\"\n");
  sh("tar -C " + ctx + " -cf " + ctx +
     "/ctx.tar Dockerfile && curl -sf --unix-socket "
     "/var/run/docker.sock -X POST -H 'Content-Type: application/x-tar' --data-binary @" +
     ctx + "/ctx.tar 'http://localhost/v1.41/build?rm=1&t=" + image + "' >/dev/null");
  auto built = cleanup.docker.inspect_image(image);
  REQUIRE(built);
  std::string image_id = (*built)["Id"];
  std::string pushed;
  REQUIRE(run("curl -sf --unix-socket /var/run/docker.sock -X POST -H 'X-Registry-Auth: e30=' "
              "'http://localhost/v1.41/images/" +
                  P + ":5000/" + repo + "/push?tag=" + tag + "'",
              &pushed) == 0);
  INFO(pushed);
  REQUIRE(pushed.find("errorDetail") == std::string::npos);
  auto at = pushed.find("\"Digest\":\"");
  REQUIRE(at != std::string::npos);
  std::string digest = pushed.substr(at + 10, pushed.find('"', at + 10) - at - 10);
  REQUIRE(cleanup.docker.remove_image(image));
  REQUIRE_FALSE(cleanup.docker.inspect_image(image_id));
  size_t log_mark = read_file(reg + "/registry.log").size();

  // Restarted, the child's edged pulls the agent through the parent and creates it.
  child.start_edged();
  Json agent;
  bool running = wait_until(
      [&] {
        auto info = cleanup.docker.inspect_container(child_agent);
        if (info && (*info)["State"].value("Running", false)) agent = *info;
        return !agent.is_null();
      },
      std::chrono::seconds(30));
  INFO(child.log("edged"));
  REQUIRE(running);
  CHECK(agent["Config"]["Image"] == image);  // $upstream resolved to parent_hostname
  const Json& labels = agent["Config"]["Labels"];
  CHECK(labels.value("nested.test.scope", "") == s + "-child");
  CHECK(labels.value("net.azure-devices.edge.original-image", "") == image);
  CHECK(labels.value("net.azure-devices.edge.owner", "") == "Microsoft.Azure.Devices.Edge.Agent");
  std::vector<std::string> env = agent["Config"]["Env"];
  CHECK(std::find(env.begin(), env.end(), "IOTEDGE_GATEWAYHOSTNAME=" + P) != env.end());
  auto pulled = cleanup.docker.inspect_image(image);
  INFO((pulled ? "" : pulled.error().message));
  REQUIRE(pulled);
  CHECK((*pulled)["Id"] == image_id);
  CHECK(agent["Image"] == image_id);
  std::vector<std::string> digests = (*pulled)["RepoDigests"];
  CHECK(std::find(digests.begin(), digests.end(), P + ":5000/" + repo + "@" + digest) !=
        digests.end());
  // After the push, the registry served the manifest and the image's config to the engine (from
  // its address on the root-namespace link).
  std::string served = read_file(reg + "/registry.log").substr(log_mark);
  INFO(served);
  CHECK(
      registry_served(served, net.root_ip(), {"HEAD", "GET"}, "/v2/" + repo + "/manifests/" + tag));
  CHECK(registry_served(served, net.root_ip(), {"GET"}, "/v2/" + repo + "/blobs/" + image_id));

  registry.stop();
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WARN("nested pair: " << seconds << " s to the child's agent running");
}

TEST_CASE("nested namespaces and the engine trust entry are gone after a failure", "[netns]") {
  if (::geteuid() != 0) {
    WARN("needs root (ip netns, /etc/docker/certs.d): skipped");
    return;
  }
  std::string parent_ns, child_ns, link, certs;
  try {
    NestedNet net;
    parent_ns = net.parent_ns();
    child_ns = net.child_ns();
    link = net.root_link();
    certs = net.docker_certs_dir();
    REQUIRE(run(net.in(child_ns) + "ping -c1 -W2 " + net.parent_ip() + " >/dev/null") == 0);
    REQUIRE(run("ping -c1 -W2 " + net.parent_ip() + " >/dev/null") == 0);  // from dockerd's ns
    // The child reaches only its parent: nothing routes it further.
    CHECK(run(net.in(child_ns) + "ping -c1 -W1 " + net.root_ip() + " >/dev/null 2>&1") != 0);
    throw std::runtime_error("a failing test");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "a failing test");
  }
  std::string list;
  run("ip netns list", &list);
  CHECK_THAT(list, !Catch::Contains(parent_ns) && !Catch::Contains(child_ns));
  CHECK(run("ip link show " + link + " >/dev/null 2>&1") != 0);
  CHECK_FALSE(exists(certs));
}

TEST_CASE("a killed nested run's namespaces and engine objects are swept by the next run",
          "[netns][docker]") {
  if (::geteuid() != 0) {
    WARN("needs root (ip netns, /etc/docker/certs.d): skipped");
    return;
  }
  // A run killed before its destructors: a child process sets up the namespaces, then SIGKILL.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      auto* net = new NestedNet();  // never destroyed
      std::string names = net->parent_ns() + " " + net->child_ns() + " " + net->root_link() + " " +
                          net->docker_certs_dir() + " " + net->parent_ip();
      [[maybe_unused]] auto n = ::write(fds[1], names.data(), names.size());
    } catch (...) {
      ::_exit(1);  // the parent sees no names and fails
    }
    ::close(fds[1]);
    ::raise(SIGKILL);
  }
  ::close(fds[1]);
  std::string names;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    names.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  std::istringstream in(names);
  std::string parent_ns, child_ns, link, certs, parent_ip;
  in >> parent_ns >> child_ns >> link >> certs >> parent_ip;
  REQUIRE_FALSE(certs.empty());
  // What its test would have left in the engine, named after its pid.
  std::string dead = std::to_string(pid), scope = "nested.test.scope=" + dead + "-1-child";
  std::string network = "nested-child-net-" + dead + "-1";
  std::string tag = parent_ip + ":5000/nested-" + dead + "-1/agent:t1";
  edged::docker::Client docker;
  DockerCleanup cleanup;  // should the sweep miss something
  cleanup.scopes = {scope};
  cleanup.networks = {network};
  cleanup.images = {tag};
  REQUIRE(docker.create_network(Json{{"Name", network}}));
  REQUIRE(docker.create_container("nested-child-agent-" + dead + "-1",
                                  Json{{"Image", "edge-test-busybox:1"},
                                       {"Labels", {{"nested.test.scope", dead + "-1-child"}}}}));
  sh("curl -sf --unix-socket /var/run/docker.sock -X POST 'http://localhost/v1.41/images/"
     "edge-test-busybox:1/tag?repo=" +
     tag.substr(0, tag.rfind(':')) + "&tag=t1'");
  // A live run's objects look the same but carry a live pid: they stay.
  NestedNet live;

  sweep_stale_runs();
  std::string list;
  run("ip netns list", &list);
  CHECK_THAT(list, !Catch::Contains(parent_ns) && !Catch::Contains(child_ns));
  CHECK_THAT(list, Catch::Contains(live.parent_ns()) && Catch::Contains(live.child_ns()));
  CHECK(run("ip link show " + link + " >/dev/null 2>&1") != 0);
  CHECK(run("ip link show " + live.root_link() + " >/dev/null 2>&1") == 0);
  CHECK_FALSE(exists(certs));
  CHECK(exists(live.docker_certs_dir()));
  CHECK(docker.list_containers({scope}).value().empty());
  CHECK_FALSE(docker.inspect_network(network));
  CHECK_FALSE(docker.inspect_image(tag));
  CHECK(docker.inspect_image("edge-test-busybox:1"));
}
