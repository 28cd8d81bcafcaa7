// The deployment the agent enforces: `$edgeAgent` desired properties parsed and validated with
// upstream's rules and status codes (400 format, 412 schema version, 417 empty).
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.h"

namespace agent {

using Json = nlohmann::json;

constexpr size_t kMaxModules = 100;
constexpr size_t kMaxCreateOptionsChunks = 100;
constexpr size_t kMaxCreateOptionsSize = 64 * 1024;
constexpr uint32_t kDefaultStartupOrder = 4294967295u;
constexpr size_t kMaxManifestBytes = 4 * 1024 * 1024;  // a local manifest file
constexpr int kMaxManifestDepth = 32;

enum class RestartPolicy { Never, OnFailure, OnUnhealthy, Always };
enum class DesiredStatus { Running, Stopped };

struct RegistryCredential {
  std::string address, username, password;
};

struct Module {
  std::string name;
  std::string version;
  DesiredStatus status = DesiredStatus::Running;
  RestartPolicy restart_policy = RestartPolicy::OnUnhealthy;
  bool pull_on_create = true;  // imagePullPolicy on-create (else never)
  uint32_t startup_order = kDefaultStartupOrder;
  std::string image;  // normalized: trimmed, $upstream resolved, ":latest" added
  Json create_options = Json::object();
  std::string digest;
  std::map<std::string, std::string> env;
  bool operator==(const Module&) const = default;
};

struct Deployment {
  std::string schema_version;
  std::map<std::string, RegistryCredential> registry_credentials;
  std::optional<Module> edge_agent;
  std::optional<Module> edge_hub;
  std::map<std::string, Module> modules;  // user modules
  // Every module the agent must run, system modules included, by name.
  std::map<std::string, Module> all() const;
};

struct ManifestError {
  int code;  // 400, 412, 417
  std::string message;
};

// A deployment as a source delivers it: the `$edgeAgent` desired properties and their version.
struct DesiredDocument {
  Json desired;
  int64_t version = 0;  // `$version`, or the local file's "version"
};

// Reads a manifest text: a whole deployment (`modulesContent`), the local-file form
// (`{"version": N, "deploymentConfig": {...}}`) or bare `$edgeAgent` desired properties.
// Invalid JSON, duplicate keys, excessive nesting and oversized text are 400.
std::expected<DesiredDocument, ManifestError> read_manifest(std::string_view text);

// `gateway` replaces `$upstream` in images and registry addresses (IOTEDGE_GATEWAYHOSTNAME).
std::expected<Deployment, ManifestError> parse_deployment(const Json& desired,
                                                          const std::string& gateway);
// Image rules: trim, `$upstream:<port>` → gateway, add ":latest" when untagged.
edge::Result<std::string> normalize_image(const std::string& image, const std::string& gateway);
// Joins createOptions, createOptions01, … (at most 100, no gaps) into one JSON object.
edge::Result<Json> join_create_options(const Json& settings);

const char* to_string(RestartPolicy policy);

}  // namespace agent
