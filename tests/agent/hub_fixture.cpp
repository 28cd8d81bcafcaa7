#include "tests/agent/hub_fixture.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <random>
#include <thread>

#include "agent/upstream/tls.h"
#include "common/cloud/exchange.h"
#include "common/fs.h"

namespace agent_test {

namespace {
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}
}  // namespace

std::string random_loopback() {
  std::random_device rd;
  std::uniform_int_distribution<int> a(10, 209), b(1, 250);
  return "127." + std::to_string(a(rd)) + "." + std::to_string(b(rd)) + "." + std::to_string(b(rd));
}

HubEmulator::HubEmulator() : HubEmulator(Named{"", random_loopback()}) {}

HubEmulator::HubEmulator(const Named& named) : address_(named.bind), hostname_(named.hostname) {
  process_ = std::make_unique<edge::test::Process>(
      std::vector<std::string>{edge::test::bin("iothub-emulator"), "--state-dir", dir_ / "state",
                               "--hostname", this->hostname(), "--bind", address_},
      std::map<std::string, std::string>{}, dir_ / "emulator.log");
  for (int i = 0; i < 300 && !edge::fs::exists(dir_ / "state/info.json"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  INFO(process_->log());
  REQUIRE(edge::fs::exists(dir_ / "state/info.json"));
  ca_ = edge::test::read_file(dir_ / "state/ca.pem");
}

HubEmulator::HubEmulator(std::string address, std::string state_dir)
    : address_(std::move(address)), state_(std::move(state_dir)) {
  ca_ = edge::test::read_file(state_ + "/ca.pem");
}

HubEmulator::~HubEmulator() {
  if (process_) process_->stop();
}

edge::test::Reply HubEmulator::call(const std::string& method, const std::string& path,
                                    const Json& body) {
  // Over the agent's own TLS (Mbed TLS), trusting only the emulator's CA.
  edge::cloud::ExchangeOptions o;
  o.proxy = std::optional<edge::cloud::Proxy>();
  o.timeout = std::chrono::milliseconds(60000);
  auto r = edge::cloud::request_over(
      agent::upstream::tls_connector(ca_, false), method, "https://" + address_ + path,
      {{"Content-Type", "application/json"}}, body.is_null() ? "" : body.dump(), o);
  edge::test::Reply reply;
  if (!r) {
    reply.body = r.error().message;
    return reply;
  }
  reply.status = r->status;
  reply.body = r->body;
  reply.json = Json::parse(r->body, nullptr, false);
  if (reply.json.is_discarded()) reply.json = nullptr;
  return reply;
}

std::string HubEmulator::create_edge_device(const std::string& device) {
  auto r = call("POST", "/admin/devices", Json{{"deviceId", device}, {"edge", true}});
  INFO(r.body);
  REQUIRE(r.status == 200);
  // The admin answer carries connection strings; the key is in the module's one.
  std::string cs = r.json["modules"]["$edgeAgent"];
  auto at = cs.find("SharedAccessKey=");
  REQUIRE(at != std::string::npos);
  return cs.substr(at + 16, cs.find(';', at) == std::string::npos ? std::string::npos
                                                                  : cs.find(';', at) - at - 16);
}

std::string HubEmulator::service_connection_string() const {
  auto info = Json::parse(edge::test::read_file(state_ + "/info.json"));
  return info["serviceConnectionString"];
}

int HubEmulator::service_sdk(const std::string& args, std::string* out) {
  std::string cmd =
      "NODE_PATH=" EDGE_SOURCE_DIR "/tests/emulator/node/node_modules NODE_EXTRA_CA_CERTS=" +
      ca_file() + " node " EDGE_SOURCE_DIR "/tests/agent/service.js " + args + " 2>&1";
  return edge::test::run(cmd, out);
}

Json HubEmulator::agent_twin(const std::string& device) {
  auto r = call("GET", "/admin/twins/" + device + "/modules/%24edgeAgent");
  REQUIRE(r.status == 200);
  return r.json;
}

Tinyproxy::Tinyproxy(const std::string& user, const std::string& password, int connect_port) {
  port_ = free_port();
  std::string conf = "User nobody\nGroup nogroup\nPort " + std::to_string(port_) +
                     "\nListen 127.0.0.1\nTimeout 60\nLogLevel Connect\nMaxClients 20\nAllow "
                     "127.0.0.1\nConnectPort " +
                     std::to_string(connect_port) + "\n";
  if (!user.empty()) conf += "BasicAuth " + user + " " + password + "\n";
  edge::test::write_file(dir_ / "tinyproxy.conf", conf);
  process_ = std::make_unique<edge::test::Process>(
      std::vector<std::string>{"/usr/bin/tinyproxy", "-d", "-c", dir_ / "tinyproxy.conf"},
      std::map<std::string, std::string>{}, dir_ / "tinyproxy.log");
  for (int i = 0; i < 100; ++i) {
    if (edge::test::run("bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) +
                        "' 2>/dev/null") == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

Tinyproxy::~Tinyproxy() {
  if (process_) process_->stop();
}

std::string Tinyproxy::url(const std::string& userinfo) const {
  return "http://" + (userinfo.empty() ? "" : userinfo + "@") +
         "127.0.0.1:" + std::to_string(port_);
}

std::string Tinyproxy::log() const { return process_ ? process_->log() : ""; }

BlobServer::BlobServer() {
  std::string out;
  int rc = edge::test::run(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "
      "/CN=blob-test -addext subjectAltName=IP:127.0.0.1 -keyout " +
          dir_ / "key.pem" + " -out " + dir_ / "cert.pem" + " 2>&1",
      &out);
  INFO(out);
  REQUIRE(rc == 0);
  cert_ = edge::test::read_file(dir_ / "cert.pem");
  std::filesystem::create_directories(dir_ / "store");
  process_ = std::make_unique<edge::test::Process>(
      std::vector<std::string>{"/usr/bin/python3", EDGE_SOURCE_DIR "/tests/agent/blob_server.py",
                               dir_ / "cert.pem", dir_ / "key.pem", dir_ / "store", "logs",
                               "s3cret", dir_ / "port"},
      std::map<std::string, std::string>{}, dir_ / "blob.log");
  for (int i = 0; i < 200 && !edge::fs::exists(dir_ / "port"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  INFO(process_->log());
  REQUIRE(edge::fs::exists(dir_ / "port"));
  port_ = std::stoi(edge::test::read_file(dir_ / "port"));
}

BlobServer::~BlobServer() {
  if (process_) process_->stop();
}

std::string BlobServer::sas_url(const std::string& container, const std::string& sig) const {
  return "https://127.0.0.1:" + std::to_string(port_) + "/" + container +
         "?sv=2020-04-08&sr=c&sp=racwl&sig=" + (sig.empty() ? "s3cret" : sig);
}

std::vector<std::string> BlobServer::blobs(const std::string& prefix) const {
  std::vector<std::string> out;
  std::filesystem::path root = dir_ / "store";
  if (!std::filesystem::exists(root / prefix)) return out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root / prefix)) {
    std::string rel = std::filesystem::relative(e.path(), root).string();
    if (e.is_regular_file() && !rel.ends_with(".headers.json") && !rel.ends_with(".append") &&
        !rel.ends_with(".blocks"))
      out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string BlobServer::read(const std::string& blob) const {
  return edge::test::read_file(dir_ / ("store/" + blob));
}

Json BlobServer::headers(const std::string& blob) const {
  return Json::parse(edge::test::read_file(dir_ / ("store/" + blob + ".headers.json")), nullptr,
                     false);
}

size_t BlobServer::blocks(const std::string& blob) const {
  std::string text = edge::fs::exists(dir_ / ("store/" + blob + ".blocks"))
                         ? edge::test::read_file(dir_ / ("store/" + blob + ".blocks"))
                         : "";
  return std::count(text.begin(), text.end(), '\n');
}

std::string BlobServer::log() const { return process_ ? process_->log() : ""; }

std::optional<std::string> gunzip(const std::string& data) {
  std::string out;
  size_t at = 0;
  while (at < data.size()) {  // one gzip member after another
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + at));
    z.avail_in = static_cast<uInt>(data.size() - at);
    int rc = Z_OK;
    char buf[16384];
    while (rc == Z_OK) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      rc = inflate(&z, Z_NO_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
    }
    at += z.total_in;
    inflateEnd(&z);
    if (rc != Z_STREAM_END) return std::nullopt;
  }
  return out;
}

}  // namespace agent_test
