// Helpers the checks share: error chains, daemon configs, certificates, hostnames, the
// container engine CLI and a TLS probe.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cli/check/framework.h"
#include "common/result.h"

namespace edge::cli::check {

using Chain = std::vector<std::string>;

// "file:///x" or "unix:///x" -> "/x" (other text unchanged).
std::string strip_scheme(const std::string& uri);

// A string at a dotted path of a TOML table ("provisioning.source"), or nullopt.
std::optional<std::string> toml_string(const toml::table& t, const std::string& dotted);
const toml::table* toml_table(const toml::table& t, const std::string& dotted);

// Loads `<root>/etc/aziot/<daemon>/config.toml` + config.d as the daemon would. Unreadable
// file -> Fatal (run as root); malformed -> Failed with upstream's texts.
Outcome load_daemon_config(Context& ctx, const std::string& daemon, const std::string& file,
                           const std::string& dir, const std::vector<std::string>& required,
                           std::optional<toml::table>& out);

// Not-before / not-after of the first certificate of a PEM text (seconds since the epoch).
struct Validity {
  long long not_before = 0;
  long long not_after = 0;
};
Result<Validity> pem_validity(const std::string& pem);
// "2026-11-22 10:30:00 UTC", chrono's Display of a UTC time as upstream prints it.
std::string utc_text(long long t);
// Upstream's verdict on a certificate's validity: error if not yet valid or expired, warning
// within 7 days of expiry.
Outcome validity_outcome(const Validity& v, const std::string& name, const std::string& id,
                         long long now);
Json validity_json(const Validity& v, const std::string& name, const std::string& id);

// RFC 1035 label rules, as upstream's `is_rfc_1035_valid`.
bool is_rfc1035_valid(const std::string& hostname);
bool is_ip_address(const std::string& text);
// The machine hostname (EDGE_CLI_HOSTNAME overrides, as for config apply).
std::string machine_hostname();

// Runs `docker -H <host> args...`; stdout, or an error chain with upstream's text (and the
// stderr in `stderr_out`).
Result<std::string> docker(const std::string& host, const std::vector<std::string>& args,
                           std::string* stderr_out = nullptr);
// The docker binary (EDGE_CLI_DOCKER overrides "docker").
std::string docker_binary();

// TCP connect + TLS handshake verifying the server for `host` (system roots; SSL_CERT_FILE
// honoured), through an HTTP CONNECT proxy when given. The returned chain says what failed.
std::optional<Chain> tls_probe(const std::string& host, uint16_t port,
                               const std::optional<std::string>& proxy,
                               std::chrono::milliseconds timeout);
// The server's leaf certificate (PEM) at host:port, not verified; nullopt when unreachable.
std::optional<std::string> peer_certificate(const std::string& connect_host, uint16_t port,
                                            const std::string& sni,
                                            std::chrono::milliseconds timeout);

// Reads a whole small file; nullopt when it cannot be read (errno kept).
std::optional<std::string> read_small_file(const std::string& path);

}  // namespace edge::cli::check
