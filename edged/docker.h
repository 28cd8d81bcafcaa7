// A client of the Docker Engine API (v1.41) over its Unix socket: what edged needs to run
// modules. Engine errors keep Docker's own message; 404 is NotFound and 409 Conflict.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/http/client.h"

namespace edged::docker {

using edge::Result;
using edge::Status;
using edge::http::Json;

struct ImageRef {
  std::string repository;  // with registry host, e.g. 127.0.0.1:5000/edge/agent
  std::string tag;         // "latest" when absent (empty when a digest is given)
  std::string digest;      // sha256:...
  std::string registry;    // host[:port] part, or "docker.io"
};
// Parses "[host[:port]/]path[:tag][@digest]"; refuses empty names, spaces and upper case
// in the repository, as the engine does.
Result<ImageRef> parse_image(const std::string& image);

struct RegistryAuth {
  std::string username;
  std::string password;
  std::string server;  // serveraddress
};

struct LogOptions {
  bool follow = false;
  bool timestamps = false;
  std::string tail = "all";
  std::optional<long long> since;  // unix seconds
  std::optional<long long> until;
};

struct LogFrame {
  int stream;  // 1 stdout, 2 stderr (0 for a TTY container's raw output)
  std::string text;
};

// Splits Docker's multiplexed log stream into frames; keeps partial frames between calls.
class LogDemuxer {
 public:
  explicit LogDemuxer(bool tty) : tty_(tty) {}
  // Returns false when the input is not a valid multiplexed stream.
  bool feed(std::string_view data, const std::function<void(const LogFrame&)>& out);

 private:
  bool tty_;
  std::string pending_;
};

class Client {
 public:
  explicit Client(std::string socket_path = "/var/run/docker.sock");

  Result<Json> version();
  // Pulls with progress discarded; an {"error":...} line in the stream is a failure.
  Status pull(const std::string& image, const std::optional<RegistryAuth>& auth);
  Result<Json> inspect_image(const std::string& image);
  // force: also when tagged more than once or used by a stopped container (by id: every tag).
  Status remove_image(const std::string& image, bool force = false);
  Result<std::vector<Json>> list_images();

  // Returns the new container's id.
  Result<std::string> create_container(const std::string& name, const Json& body);
  Status start(const std::string& id);                  // already running is not an error
  Status stop(const std::string& id, int timeout_seconds);  // already stopped is not an error
  Status restart(const std::string& id, int timeout_seconds);
  Status kill(const std::string& id, const std::string& signal = "SIGKILL");
  Status remove_container(const std::string& id, bool force);
  Result<Json> inspect_container(const std::string& id);
  // All containers (running or not) carrying every label in `labels` ("key=value" or "key");
  // every container when `labels` is empty.
  Result<std::vector<Json>> list_containers(const std::vector<std::string>& labels);
  Result<Json> top(const std::string& id, const std::string& ps_args = "");
  Result<Json> stats(const std::string& id);
  // Streams log frames to on_frame until the logs end (or, with follow, the container stops
  // or on_frame returns false).
  Status logs(const std::string& id, const LogOptions& options,
              const std::function<bool(const LogFrame&)>& on_frame);
  // The engine's log stream as it comes (multiplexed frames unless the container has a TTY).
  Status logs_raw(const std::string& id, const LogOptions& options,
                  const std::function<bool(std::string_view)>& on_data);

  Result<Json> inspect_network(const std::string& name);
  // GET /networks with engine filters, e.g. {"name":{"azure-iot-edge":true}} (substring match).
  Result<std::vector<Json>> list_networks(const Json& filters);
  Result<std::string> create_network(const Json& body);
  Status remove_network(const std::string& name);

  // Streams engine events (JSON objects) matching `filters` until on_event returns false.
  Status events(const Json& filters, const std::function<bool(const Json&)>& on_event,
                std::chrono::milliseconds idle);

 private:
  Result<edge::http::ClientResponse> call(const std::string& method, const std::string& target,
                                          const std::optional<Json>& body = std::nullopt,
                                          const edge::http::Headers& headers = {});
  std::string socket_path_;
};

// Maps an engine error response to an Error carrying the engine's message.
edge::Error engine_error(const edge::http::ClientResponse& response, const std::string& what);

}  // namespace edged::docker
