// A private IoT Hub emulator per test (root, real ports 8883/443 on a random 127.x.y.z, like the
// SDK tests), an edge device with its `$edgeAgent` key, and a tinyproxy for proxy tests.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/harness.h"

namespace agent_test {

using Json = nlohmann::json;

class HubEmulator {
 public:
  HubEmulator();
  // A hub named `hostname` (its certificate, SAS audience, MQTT user names) listening on `bind`;
  // address() stays the bind address, for the test's own admin calls.
  struct Named {
    std::string hostname, bind;
  };
  explicit HubEmulator(const Named& named);
  // An emulator someone else runs (e.g. the identity-services stack's), by address and state dir.
  HubEmulator(std::string address, std::string state_dir);
  ~HubEmulator();
  const std::string& address() const { return address_; }
  const std::string& hostname() const { return hostname_.empty() ? address_ : hostname_; }
  const std::string& ca_pem() const { return ca_; }
  std::string ca_file() const { return state_ + "/ca.pem"; }
  std::string service_connection_string() const;
  // Runs tests/agent/service.js (azure-iothub) with `args`; returns its exit code, stdout in *out.
  int service_sdk(const std::string& args, std::string* out);
  // The admin / service API over HTTPS; returns the status and parsed body.
  edge::test::Reply call(const std::string& method, const std::string& path,
                         const Json& body = nullptr);
  // Creates an edge device; returns the `$edgeAgent` module's primary key.
  std::string create_edge_device(const std::string& device);
  Json agent_twin(const std::string& device);
  std::string log() const { return process_ ? process_->log() : ""; }

 private:
  edge::test::TempDir dir_;
  std::string address_;
  std::string hostname_;
  std::string state_ = dir_ / "state";
  std::string ca_;
  std::unique_ptr<edge::test::Process> process_;
};

class Tinyproxy {
 public:
  // With credentials the proxy asks for Basic authentication.
  explicit Tinyproxy(const std::string& user = "", const std::string& password = "",
                     int connect_port = 443);
  ~Tinyproxy();
  std::string url(const std::string& userinfo = "") const;
  std::string log() const;

 private:
  edge::test::TempDir dir_;
  int port_ = 0;
  std::unique_ptr<edge::test::Process> process_;
};

// tests/agent/blob_server.py over HTTPS on 127.0.0.1 with a self-signed certificate: an Azure
// Blob Storage container `logs` that accepts requests carrying sig=<sig()>.
class BlobServer {
 public:
  BlobServer();
  ~BlobServer();
  const std::string& cert_pem() const { return cert_; }
  std::string sas_url(const std::string& container = "logs", const std::string& sig = "") const;
  // Stored blobs below `prefix` (names relative to the container).
  std::vector<std::string> blobs(const std::string& prefix = "") const;
  std::string read(const std::string& blob) const;
  Json headers(const std::string& blob) const;
  size_t blocks(const std::string& blob) const;  // Append Block calls received
  std::string log() const;

 private:
  edge::test::TempDir dir_;
  std::string cert_;
  int port_ = 0;
  std::unique_ptr<edge::test::Process> process_;
};

// gunzip of every gzip member in `data`, or nullopt when it is not gzip.
std::optional<std::string> gunzip(const std::string& data);

std::string random_loopback();

}  // namespace agent_test
