// The emulated IoT Hub + DPS: identity registry, twins, direct methods, telemetry, enrollments.
// Thread-safe: the REST threads and the broker thread (MQTT plugin) call it concurrently.
// It never calls the broker: MQTT output goes to an outbox the broker thread drains.
#pragma once
#include <openssl/x509.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace emulator {

struct SasToken;
using Json = nlohmann::json;

struct HubConfig {
  std::string hostname = "localhost";  // the hub's host name: SAS audience, MQTT user names
  std::string state_dir;               // state.json lives here; empty = in memory only
  std::string dps_id_scope = "0ne00000001";
  size_t twin_properties_limit = 32 * 1024;  // desired and reported, each (IoT Hub's limit)
  size_t telemetry_kept = 2000;
  int max_method_timeout_s = 300;
};

// A message for the broker thread to send to one MQTT client, or a client to disconnect.
struct Outbound {
  enum class Kind { Publish, Kick } kind = Kind::Publish;
  std::string client_id;
  std::string topic;
  std::string payload;
  int qos = 0;
};

// Who made a REST call, from its Authorization header.
struct Caller {
  enum class Kind { Service, Device, Module } kind = Kind::Service;
  std::string device_id;
  std::string module_id;
};

enum class PublishOutcome { Consumed, Disconnect };

struct DpsReply {
  int status = 200;
  Json body;
};

// Error values carry an IoT Hub error name: message is "<ErrorName>;<text>".
edge::Error hub_error(edge::ErrorKind kind, const std::string& name, const std::string& text);

class Hub {
 public:
  explicit Hub(HubConfig config);
  const HubConfig& config() const { return config_; }
  edge::Status load();

  // ---- registry (service REST shapes) ----
  edge::Result<Json> put_device(const std::string& id, const Json& body,
                                const std::string& if_match);
  edge::Result<Json> get_device(const std::string& id) const;
  Json list_devices() const;
  edge::Status delete_device(const std::string& id, const std::string& if_match);
  edge::Result<Json> put_module(const std::string& dev, const std::string& mod, const Json& body,
                                const std::string& if_match);
  edge::Result<Json> get_module(const std::string& dev, const std::string& mod) const;
  edge::Result<Json> list_modules(const std::string& dev) const;
  edge::Status delete_module(const std::string& dev, const std::string& mod,
                             const std::string& if_match);

  // ---- authentication ----
  edge::Result<Caller> authenticate_rest(const std::string& authorization) const;
  // MQTT CONNECT: SAS password, or (no password) the TLS client certificate.
  edge::Status authenticate_mqtt(const std::string& client_id, const std::string& username,
                                 std::string password, X509* cert);
  // A REST call without a token, authenticated by the TLS client certificate of device `dev`.
  edge::Result<Caller> authenticate_rest_certificate(const std::string& dev, X509* cert,
                                                     STACK_OF(X509) * chain) const;
  // Registers a verified CA for CA-signed (certificateAuthority) device certificates.
  edge::Result<Json> put_certificate_authority(const Json& body);
  std::string service_connection_string() const;
  std::string connection_string(const std::string& dev, const std::string& mod = {}) const;

  // ---- twins ----
  edge::Result<Json> get_twin(const std::string& dev, const std::string& mod) const;
  // PATCH (merge) or PUT (replace) of tags and desired properties from the service side.
  edge::Result<Json> update_twin(const std::string& dev, const std::string& mod, const Json& body,
                                 const std::string& if_match, bool replace);
  edge::Status apply_configuration(const std::string& dev, const Json& content);

  // ---- direct methods (blocks the calling REST thread until the device answers) ----
  edge::Result<Json> invoke_method(const std::string& dev, const std::string& mod,
                                   const Json& body);

  // ---- MQTT side (broker thread) ----
  // A clean session starts without subscriptions; a persistent one keeps them (as the broker does).
  void client_connected(const std::string& client_id, bool clean_session = true);
  void client_disconnected(const std::string& client_id);
  void client_subscribed(const std::string& client_id, const std::string& filter);
  bool may_subscribe(const std::string& client_id, const std::string& filter) const;
  // The TLS front saw this client certificate; returns a one-time id the CONNECT carries as
  // password "x509-session:<id>" so authenticate_mqtt can check the certificate.
  std::string register_certificate_session(X509* leaf, STACK_OF(X509) * chain);
  PublishOutcome on_publish(const std::string& client_id, const std::string& topic,
                            const std::string& payload);
  std::vector<Outbound> take_outbox();
  // {"dev" or "dev/mod": {"connected": bool, "subscriptions": ["c2d","desired","methods"]}}
  Json connections(const std::string& dev) const;

  // ---- cloud-to-device messages: queued (at most 50, like IoT Hub) until the device subscribes
  // ----
  edge::Status send_c2d(const std::string& dev, const Json& message);

  // ---- telemetry (device-to-cloud messages the hub received) ----
  Json telemetry(const std::string& dev, const std::string& mod) const;

  // ---- DPS ----
  edge::Result<DpsReply> dps_register(const std::string& scope, const std::string& registration_id,
                                      const std::string& authorization, X509* cert,
                                      const Json& body);
  edge::Result<DpsReply> dps_operation(const std::string& scope, const std::string& registration_id,
                                       const std::string& operation_id,
                                       const std::string& authorization, X509* cert);
  // Admin API (flat) or DPS service API (attestation) shape; returns the stored (flat) form.
  edge::Result<Json> put_enrollment(const Json& body);
  edge::Result<Json> get_enrollment(const std::string& registration_id) const;
  edge::Status delete_enrollment(const std::string& registration_id);
  edge::Result<Json> put_enrollment_group(const Json& body);

  // ---- device scope (what an edgeHub may authenticate; nested hierarchies) ----
  // Identities in `target`'s scope (itself, its child devices and edge devices, its modules);
  // `target` must be `actor` or below it.
  edge::Result<Json> identities_in_scope(const std::string& actor, const std::string& target) const;
  edge::Result<Json> identity_in_scope(const std::string& actor, const std::string& target_dev,
                                       const std::string& target_mod) const;

  // ---- admin ----
  edge::Result<Json> admin_create_device(const Json& body);
  Json info() const;

 private:
  struct Connection {
    int count = 0;
    std::set<std::string> subscriptions;  // "methods", "desired"
  };
  struct CertificateSession {
    std::shared_ptr<X509> leaf;
    std::vector<std::shared_ptr<X509>> chain;
    int64_t created = 0;
  };
  struct PendingMethod {
    bool done = false;
    int status = 0;
    std::string payload;
    std::string client_id;  // only this client may answer
  };

  // All below require mu_ held.
  Json* device_entry(const std::string& dev);
  const Json* device_entry(const std::string& dev) const;
  Json* identity_entry(const std::string& dev, const std::string& mod);
  const Json* identity_entry(const std::string& dev, const std::string& mod) const;
  edge::Result<Json> put_device_locked(const std::string& id, const Json& body,
                                       const std::string& if_match);
  edge::Result<Json> put_module_locked(const std::string& dev, const std::string& mod,
                                       const Json& body, const std::string& if_match);
  edge::Result<Json> get_device_view_locked(const std::string& id) const;
  std::string device_with_scope_locked(const std::string& scope) const;
  bool in_hierarchy_locked(const std::string& actor, const std::string& target) const;
  Json twin_view(const std::string& dev, const std::string& mod) const;
  void set_desired_locked(const std::string& dev, const std::string& mod, Json& entry,
                          const Json& patch, bool replace);
  void push_desired_locked(const std::string& dev, const std::string& mod, const Json& patch,
                           int64_t version);
  edge::Status check_certificate_locked(const Json& identity, const std::string& dev, X509* cert,
                                        const std::vector<X509*>& chain) const;
  edge::Status check_keys(const Json& entry, const std::string& resource,
                          const std::string& token) const;
  bool is_online(const std::string& client_id, const char* subscription = nullptr) const;
  void flush_c2d_locked(const std::string& dev);
  void load_telemetry_locked();
  void append_telemetry_locked(const Json& message);
  void record_telemetry(const std::string& dev, const std::string& mod, const std::string& props,
                        const std::string& payload);
  void publish(const std::string& client_id, std::string topic, std::string payload);
  void save();
  edge::Result<Json> dps_authenticate(const std::string& scope, const std::string& registration_id,
                                      const std::string& authorization, X509* cert) const;
  edge::Result<Json> dps_assign(const std::string& registration_id, const Json& enrollment,
                                X509* cert, const Json& payload);
  // DPS TPM attestation (dps_tpm.cpp): the 401 challenge, the check of a token signed with the
  // challenge's key, and the registration result's "tpm" part.
  edge::Result<DpsReply> dps_tpm_challenge_locked(const std::string& registration_id,
                                                  const Json& body);
  edge::Result<Json> dps_tpm_authenticate_locked(const std::string& registration_id,
                                                 const Json& enrollment, const SasToken& sas,
                                                 const std::string& resource) const;
  edge::Result<Json> dps_tpm_result_locked(const Json& proof) const;

  HubConfig config_;
  mutable std::mutex mu_;
  Json state_;  // {devices:{}, enrollments:{}, groups:{}, registrations:{}, policies:{}}
  std::map<std::string, Connection> connections_;
  std::vector<Outbound> outbox_;
  std::deque<Json> telemetry_;
  size_t telemetry_lines_ = 0;  // lines in telemetry.jsonl since it was last compacted
  std::map<std::string, std::deque<Outbound>> c2d_queue_;
  std::map<std::string, PendingMethod> pending_methods_;
  std::map<std::string, CertificateSession> certificate_sessions_;
  std::condition_variable method_cv_;
  uint64_t rid_seq_ = 0;
};

}  // namespace emulator
