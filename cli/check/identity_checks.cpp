// The identity service's checks (upstream's `aziotctl check`): configs, hostname, versions,
// host time, certificate expiry, daemons answering, preloaded certs and keys, and the host's
// TLS connectivity to IoT Hub and DPS.
#include <netdb.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <variant>

#include "cli/check/checks.h"
#include "cli/check/util.h"
#include "common/base64.h"
#include "common/crypto.h"
#include "common/http/client.h"

#ifndef EDGE_VERSION
#define EDGE_VERSION "1.5.0"
#endif

namespace edge::cli::check {
namespace {

long long now() { return static_cast<long long>(std::time(nullptr)); }

// Socket of an identity daemon: identityd's [endpoints] (what the daemons really use),
// else the daemon's own config, else upstream's default under the root prefix.
std::string socket_uri(const Context& ctx, const std::string& daemon) {
  const std::string key = "endpoints.aziot_" + daemon;
  if (ctx.identityd)
    if (auto v = toml_string(*ctx.identityd, key)) return *v;
  const std::optional<toml::table>* own = daemon == "keyd"    ? &ctx.keyd
                                          : daemon == "certd" ? &ctx.certd
                                          : daemon == "tpmd"  ? &ctx.tpmd
                                                              : &ctx.identityd;
  if (*own)
    if (auto v = toml_string(**own, key)) return *v;
  return "unix://" + ctx.path("/run/aziot/" + daemon + ".sock");
}

Check well_formed(const std::string& daemon, std::optional<toml::table> Context::*slot,
                  std::vector<std::string> required) {
  return {daemon + "-config-well-formed", daemon + " configuration is well-formed",
          [daemon, slot, required](Context& ctx, Json&) {
            Outcome o = load_daemon_config(ctx, daemon, "/etc/aziot/" + daemon + "/config.toml",
                                           "/etc/aziot/" + daemon + "/config.d", required,
                                           ctx.*slot);
            if (o.kind == Kind::Ok && daemon == "identityd") {
              std::optional<toml::table> prev;
              load_daemon_config(ctx, "identityd_prev", "/var/lib/aziot/identityd/prev_state",
                                 "/nonexistent", {"provisioning.source"}, prev);
              ctx.identityd_prev = std::move(prev);
            }
            return o;
          }};
}

// The last-modified comparison of upstream's `check_last_modified`.
Outcome configs_up_to_date(const Context& ctx, const std::vector<std::string>& services,
                           const std::string& program) {
  struct stat super {};
  const std::string super_path = "/etc/aziot/config.toml";
  if (::stat(ctx.path(super_path).c_str(), &super) != 0) return Outcome::ignored();
  for (const auto& service : services) {
    const std::string path = "/etc/aziot/" + service + "/config.d/00-super.toml";
    struct stat st {};
    if (::stat(ctx.path(path).c_str(), &st) != 0) {
      if (errno == ENOENT)
        return Outcome::warning({path + " does not exist.\nDid you run '" + program + " config apply'?"});
      return Outcome::failed({std::string(std::strerror(errno)) + " (os error " + std::to_string(errno) + ")"});
    }
    auto ns = [](const struct stat& s) {
      return static_cast<long long>(s.st_mtim.tv_sec) * 1000000000LL + s.st_mtim.tv_nsec;
    };
    if (ns(super) > ns(st))
      return Outcome::warning({super_path + " was modified after " + service +
                               "'s config\nYou must run '" + program +
                               " config apply' to update " + service +
                               "'s config with the latest config.toml"});
  }
  return Outcome::ok();
}

Outcome hostname_check(Context& ctx, Json& info) {
  if (!ctx.identityd) return Outcome::skipped();
  const std::string config_hostname = toml_string(*ctx.identityd, "hostname").value_or("");
  info["config_hostname"] = config_hostname;
  if (is_ip_address(config_hostname)) {
    info["machine_hostname"] = config_hostname;
    return Outcome::ok();
  }
  const std::string machine = machine_hostname();
  info["machine_hostname"] = machine;
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string c = lower(config_hostname), m = lower(machine);
  if (c != m && !c.starts_with(m + "."))
    return Outcome::failed(
        {"identityd config has hostname " + c + " but device reports hostname " + m +
         ".\nHostname in identityd config must either be identical to the device hostname or be a "
         "fully-qualified domain name that has the device hostname as the first component."});
  if (!is_rfc1035_valid(config_hostname))
    return Outcome::warning({hostname_rfc1035_message("identityd config has hostname", config_hostname)});
  if (config_hostname.size() > 64)
    return Outcome::warning({"identityd config hostname " + config_hostname +
                             " is too long to be used as a certificate issuer"});
  return Outcome::ok();
}

Outcome aziot_version(Context& ctx, Json& info) {
  const std::string actual = EDGE_VERSION;
  std::string expected;
  if (ctx.options.expected_aziot_version) {
    expected = *ctx.options.expected_aziot_version;
  } else {
    if (!ctx.identityd) return Outcome::skipped();
    if (toml_string(*ctx.identityd, "provisioning.local_gateway_hostname")) return Outcome::ignored();
    auto latest = latest_version("aziot-identity-service", actual, ctx.proxy_uri);
    if (!latest) return failed_from(latest.error());
    expected = *latest;
  }
  info["expected_version"] = expected;
  info["actual_version"] = actual;
  if (expected != actual)
    return Outcome::warning({"Installed aziot-identity-service package has version " + actual +
                             " but " + expected +
                             " is the latest stable version available.\nPlease see "
                             "https://aka.ms/aziot-update-runtime for update instructions."});
  return Outcome::ok();
}

// One SNTP exchange (RFC 4330): the local clock's offset in whole seconds.
struct SntpError {
  bool unreachable;
  std::string message;
};
std::variant<long long, SntpError> sntp_offset(const std::string& server) {
  auto colon = server.rfind(':');
  std::string host = colon == std::string::npos ? server : server.substr(0, colon);
  std::string port = colon == std::string::npos ? "123" : server.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    return SntpError{true, "could not resolve NTP pool hostname: " + std::string(gai_strerror(rc))};
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(res, freeaddrinfo);
  int fd = ::socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SntpError{false, "could not bind client socket"};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char req[48] = {};
  req[0] = 0x23;  // LI 0, version 4, mode 3 (client)
  const double t1 = static_cast<double>(std::time(nullptr));
  if (::sendto(fd, req, sizeof req, 0, res->ai_addr, res->ai_addrlen) != sizeof req)
    return SntpError{true, "could not send SNTP client request: " + std::string(std::strerror(errno))};
  unsigned char resp[48];
  ssize_t n = ::recv(fd, resp, sizeof resp, 0);
  const double t4 = static_cast<double>(std::time(nullptr));
  if (n < 0)
    return SntpError{errno == EAGAIN || errno == EWOULDBLOCK,
                     "could not receive SNTP server response: " + std::string(std::strerror(errno))};
  if (n != 48 || (resp[0] & 0x7) != 4) return SntpError{false, "malformed SNTP server response"};
  auto ts = [&](int off) {
    uint32_t secs = (uint32_t(resp[off]) << 24) | (uint32_t(resp[off + 1]) << 16) |
                    (uint32_t(resp[off + 2]) << 8) | resp[off + 3];
    return static_cast<double>(secs) - 2208988800.0;  // NTP era 0 -> Unix epoch
  };
  const double t2 = ts(32), t3 = ts(40);
  return static_cast<long long>(((t2 - t1) + (t3 - t4)) / 2);
}

Outcome host_local_time(Context& ctx, Json& info) {
  auto r = sntp_offset(ctx.options.ntp_server);
  if (auto* e = std::get_if<SntpError>(&r)) {
    if (e->unreachable) return Outcome::warning({"Could not query NTP server", e->message});
    return Outcome::failed({"Could not query NTP server", e->message});
  }
  long long offset = std::llabs(std::get<long long>(r));
  info["offset"] = offset;
  if (offset >= 10)
    return Outcome::warning({"Time on the device is out of sync with the NTP server. This may cause "
                             "problems connecting to IoT Hub.\nPlease ensure time on device is "
                             "accurate, for example by installing an NTP daemon."});
  return Outcome::ok();
}

// Where certd keeps a certificate: the preloaded file, else its store under homedir.
std::optional<std::string> cert_path(const Context& ctx, const std::string& id) {
  if (!ctx.certd) return std::nullopt;
  if (auto p = toml_string(*ctx.certd, "preloaded_certs." + id)) return ctx.path(strip_scheme(*p));
  std::string clean;
  for (char c : id)
    if (std::isalnum(static_cast<unsigned char>(c))) clean += c;
  const std::string home = toml_string(*ctx.certd, "homedir_path").value_or("/var/lib/aziot/certd");
  return ctx.path(home) + "/certs/" + clean + "-" + crypto::hex(crypto::sha256(id)) + ".cer";
}

// Upstream's validate_cert: a cert that is configured but not issued yet is fine.
Outcome validate_cert(const Context& ctx, const std::string& id, const std::string& name, Json* info) {
  auto path = cert_path(ctx, id);
  if (path && ::access(path->c_str(), F_OK) == 0) {
    auto pem = read_small_file(*path);
    if (!pem) return Outcome::failed({"Could not open cert file.", "operation on file " + *path});
    auto v = pem_validity(*pem);
    if (!v) return Outcome::failed({"could not parse " + *path + " as a valid .pem"});
    if (info) *info = validity_json(*v, name, id);
    return validity_outcome(*v, name, id, now());
  }
  const bool preloaded = ctx.certd && toml_string(*ctx.certd, "preloaded_certs." + id);
  const bool issued = ctx.certd && ctx.certd->at_path("cert_issuance." + id);
  if (!preloaded && !issued)
    return Outcome::failed({name + " certificate is neither preloaded nor configured to be "
                                   "dynamically issued, and thus cannot be used."});
  return Outcome::ok();
}

Outcome identity_certificate_expiry(Context& ctx, Json& info) {
  if (!ctx.identityd) return Outcome::skipped();
  const auto source = toml_string(*ctx.identityd, "provisioning.source").value_or("none");
  const auto method = toml_string(*ctx.identityd, source == "dps" ? "provisioning.attestation.method"
                                                                  : "provisioning.authentication.method");
  std::optional<std::string> cert;
  std::string name;
  if (source == "dps" && method == "x509") {
    info["provisioning_mode"] = "dps-x509";
    cert = toml_string(*ctx.identityd, "provisioning.attestation.identity_cert");
    name = "DPS identity";
  } else if (source == "manual" && method == "x509") {
    info["provisioning_mode"] = "manual-x509";
    cert = toml_string(*ctx.identityd, "provisioning.authentication.identity_cert");
    name = "Manual identity";
  } else {
    info["provisioning_mode"] = source == "none" ? "none" : source + "-other";
    return Outcome::ignored();
  }
  if (!ctx.certd) return Outcome::skipped();
  Json cert_info;
  Outcome o = validate_cert(ctx, cert.value_or(""), name, &cert_info);
  if (!cert_info.is_null()) info["certificate_info"] = cert_info;
  return o;
}

Outcome est_certificate_expiry(Context& ctx, Json& info) {
  if (!ctx.certd) return Outcome::skipped();
  auto identity = toml_string(*ctx.certd, "cert_issuance.est.identity_cert");
  if (!identity) return Outcome::ignored();
  Json ci;
  Outcome o = validate_cert(ctx, *identity, "x509 identity", &ci);
  if (!ci.is_null()) info["identity_certificate_info"] = ci;
  if (o.kind != Kind::Ok) return o;
  if (auto bootstrap = toml_string(*ctx.certd, "cert_issuance.est.bootstrap_identity_cert")) {
    Json bi;
    o = validate_cert(ctx, *bootstrap, "x509 bootstrap", &bi);
    if (!bi.is_null()) info["bootstrap_certificate_info"] = bi;
  }
  return o;
}

Outcome local_ca_expiry(Context& ctx, Json& info) {
  if (!ctx.certd) return Outcome::skipped();
  auto id = toml_string(*ctx.certd, "cert_issuance.local_ca.cert");
  if (!id) return Outcome::ignored();
  Json ci;
  Outcome o = validate_cert(ctx, *id, "Local CA", &ci);
  if (!ci.is_null()) info["certificate_info"] = ci;
  return o;
}

Outcome certs_preloaded(Context& ctx, Json&) {
  if (!ctx.certd) return Outcome::skipped();
  const toml::table* preloaded = toml_table(*ctx.certd, "preloaded_certs");
  if (!preloaded) return Outcome::ok();
  for (const auto& [key, node] : *preloaded) {
    const std::string id(key.str());
    auto uri = node.value<std::string>();
    if (!uri) continue;  // a list of ids: its members are checked on their own
    if (!uri->starts_with("file://"))
      return Outcome::failed({"preloaded cert \"" + id + "\" has a scheme other than `file://`"});
    const std::string path = ctx.path(strip_scheme(*uri));
    auto pem = read_small_file(path);
    if (!pem)
      return Outcome::failed({"Could not open cert file.", "operation on file " + path,
                              std::string(std::strerror(errno))});
    auto v = pem_validity(*pem);
    if (!v) return Outcome::failed({"could not parse " + path + " as a valid .pem"});
    Outcome o = validity_outcome(*v, "", id, now());
    if (o.kind != Kind::Ok) return o;
  }
  return Outcome::ok();
}

Check daemon_running(const std::string& daemon, bool Context::*flag) {
  return {daemon + "-running", daemon + " is running", [daemon, flag](Context& ctx, Json&) {
            if (daemon == "tpmd") {
              const auto& cfg = ctx.identityd ? ctx.identityd : ctx.identityd_prev;
              bool uses_tpm = !cfg || (toml_string(*cfg, "provisioning.source") == "dps" &&
                                       toml_string(*cfg, "provisioning.attestation.method") == "tpm");
              if (!uses_tpm) return Outcome::ignored();
            }
            const std::string uri = socket_uri(ctx, daemon);
            int fd = http::connect_unix(strip_scheme(uri));
            if (fd < 0)
              return Outcome::failed({"Could not connect to " + daemon + " on " + uri,
                                      std::string(std::strerror(errno)) + " (os error " +
                                          std::to_string(errno) + ")"});
            ::close(fd);
            ctx.*flag = true;
            return Outcome::ok();
          }};
}

Outcome certs_read(Context& ctx, Json&) {
  if (!ctx.certd) return Outcome::skipped();
  if (!ctx.certd_running) return Outcome::skipped();
  const toml::table* preloaded = toml_table(*ctx.certd, "preloaded_certs");
  if (!preloaded) return Outcome::ok();
  http::UnixClient client(strip_scheme(socket_uri(ctx, "certd")), std::chrono::seconds(10));
  std::string errors;
  for (const auto& [key, node] : *preloaded) {
    const std::string id(key.str());
    auto r = client.request("GET", "/certificates/" + id + "?api-version=2020-09-01");
    std::string problem;
    if (!r) problem = r.error().message;
    else if (r->status != 200) problem = r->message();
    else if (auto j = r->json(); !j || !j->contains("pem") || !(*j)["pem"].is_string())
      problem = "malformed response";
    else if (auto pem = (*j)["pem"].get<std::string>(); !pem_validity(pem))
      problem = "cert is empty";
    else
      ctx.certs[id] = pem;
    if (!problem.empty()) {
      if (!errors.empty()) errors += "\n";
      errors += "could not load cert with ID \"" + id + "\": " + problem;
    }
  }
  return errors.empty() ? Outcome::ok() : Outcome::failed({errors});
}

// Reads a public parameter of a key pair through keyd.
std::optional<std::string> key_parameter(http::UnixClient& client, const std::string& handle,
                                         const std::string& name) {
  auto r = client.request("POST", "/parameters/" + name + "?api-version=2020-09-01",
                          Json{{"keyHandle", handle}});
  if (!r || r->status != 200) return std::nullopt;
  auto j = r->json();
  if (!j || !j->contains("value") || !(*j)["value"].is_string()) return std::nullopt;
  return (*j)["value"].get<std::string>();
}

Outcome key_pairs_read(Context& ctx, Json&) {
  if (!ctx.keyd) return Outcome::skipped();
  if (!ctx.keyd_running) return Outcome::skipped();
  const toml::table* preloaded = toml_table(*ctx.keyd, "preloaded_keys");
  if (!preloaded) return Outcome::ok();
  http::UnixClient client(strip_scheme(socket_uri(ctx, "keyd")), std::chrono::seconds(10));
  std::vector<std::string> errors, warnings;
  for (const auto& [key, node] : *preloaded) {
    const std::string id(key.str());
    auto location = node.value<std::string>().value_or("");
    if (location.starts_with("file://")) {
      const std::string path = ctx.path(strip_scheme(location));
      if (::access(path.c_str(), R_OK) != 0) {
        errors.push_back("could not read file " + path + ": " + std::strerror(errno));
        continue;
      }
    }
    auto r = client.request("GET", "/keypair/" + id + "?api-version=2020-09-01");
    if (!r || r->status != 200) continue;  // symmetric keys are not key pairs
    auto j = r->json();
    if (!j || !j->contains("keyHandle")) continue;
    const std::string handle = (*j)["keyHandle"].get<std::string>();
    auto algorithm = key_parameter(client, handle, "algorithm");
    if (!algorithm) {
      errors.push_back("could not load preloaded private key with ID \"" + id + "\"");
      continue;
    }
    if (*algorithm == "RSA") {
      auto modulus = key_parameter(client, handle, "rsa-modulus");
      auto bytes = modulus ? base64::decode(*modulus) : std::nullopt;
      size_t bits = bytes ? bytes->size() * 8 : 0;
      if (bits < 2048)
        warnings.push_back("RSA key " + id + " has length " + std::to_string(bits) +
                           " (min recommended: 2048)");
      if (bytes) ctx.private_keys[id] = "RSA:" + *bytes;
    } else {
      auto oid = key_parameter(client, handle, "ec-curve-oid");
      if (oid != std::optional<std::string>("BggqhkjOPQMBBw=="))  // 1.2.840.10045.3.1.7, P-256
        warnings.push_back("EC key " + id + " not using recommended curve (recommended: P-256)");
      if (auto point = key_parameter(client, handle, "ec-point"))
        if (auto bytes = base64::decode(*point)) ctx.private_keys[id] = "EC:" + *bytes;
    }
  }
  if (!errors.empty()) return Outcome::failed({join(errors, "\n")});
  if (!warnings.empty()) return Outcome::warning({join(warnings, "\n")});
  return Outcome::ok();
}

// The public key of a certificate in the form keyd reports it ("RSA:<modulus>" /
// "EC:<compressed point>").
std::optional<std::string> cert_public_key(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return std::nullopt;
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (!key) return std::nullopt;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    BIGNUM* n = nullptr;
    if (!EVP_PKEY_get_bn_param(key, "n", &n)) return std::nullopt;
    std::string out(static_cast<size_t>(BN_num_bytes(n)), '\0');
    BN_bn2bin(n, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(n);
    return "RSA:" + out;
  }
  unsigned char buf[133];
  size_t len = 0;
  if (!EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", buf, sizeof buf, &len)) return std::nullopt;
  // keyd reports P-256 points compressed.
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1),
                                                            EC_GROUP_free);
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> point(EC_POINT_new(group.get()), EC_POINT_free);
  unsigned char out[65];
  if (EC_POINT_oct2point(group.get(), point.get(), buf, len, nullptr) != 1) return std::nullopt;
  size_t n = EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_COMPRESSED, out, sizeof out, nullptr);
  return "EC:" + std::string(reinterpret_cast<char*>(out), n);
}

Outcome certs_match_private_keys(Context& ctx, Json&) {
  if (!ctx.certd_running || !ctx.keyd_running) return Outcome::skipped();
  std::string errors;
  for (const auto& [id, key] : ctx.private_keys) {
    auto cert = ctx.certs.find(id);
    if (cert == ctx.certs.end()) continue;
    if (cert_public_key(cert->second) != std::optional<std::string>(key)) {
      if (!errors.empty()) errors += "\n";
      errors += "preloaded cert with ID \"" + id + "\" does not match preloaded private key with ID \"" + id + "\"";
    }
  }
  return errors.empty() ? Outcome::ok() : Outcome::failed({errors});
}

Outcome est_server_https(Context& ctx, Json&) {
  if (!ctx.certd) return Outcome::skipped();
  if (!ctx.certd_running) return Outcome::skipped();
  std::vector<std::string> urls;
  if (const auto* est_urls = toml_table(*ctx.certd, "cert_issuance.est.urls"))
    for (const auto& [k, v] : *est_urls)
      if (auto s = v.value<std::string>()) urls.push_back(*s);
  if (const auto* issuance = toml_table(*ctx.certd, "cert_issuance"))
    for (const auto& [k, v] : *issuance)
      if (const auto* t = v.as_table(); t && toml_string(*t, "method") == "est")
        if (auto u = toml_string(*t, "url")) urls.push_back(*u);
  std::vector<std::string> warnings;
  for (const auto& url : urls) {
    if (url.starts_with("https://")) continue;
    warnings.push_back("EST server URL \"" + url +
                       "\" is configured with unencrypted HTTP, which may expose device to "
                       "man-in-the-middle attacks.");
    warnings.push_back("To clear this warning, configure HTTPS for your EST server and update the URL.");
  }
  return warnings.empty() ? Outcome::ok() : Outcome::warning({join(warnings, "\n")});
}

Check host_connect_iothub(const std::string& id, const std::string& description, uint16_t port) {
  return {id, description, [port](Context& ctx, Json& info) {
            info["port_number"] = port;
            if (!ctx.identityd) return Outcome::skipped();
            std::string hostname;
            bool nested = false;
            if (ctx.options.iothub_hostname) {
              hostname = *ctx.options.iothub_hostname;
            } else {
              const auto source = toml_string(*ctx.identityd, "provisioning.source").value_or("none");
              const auto gateway = toml_string(*ctx.identityd, "provisioning.local_gateway_hostname");
              if (source == "manual") {
                hostname = gateway.value_or(toml_string(*ctx.identityd, "provisioning.iothub_hostname").value_or(""));
                nested = gateway.has_value();
              } else if (source == "dps") {
                if (gateway) return Outcome::ignored();
                auto prev = ctx.identityd_prev ? toml_string(*ctx.identityd_prev, "provisioning.iothub_hostname")
                                               : std::nullopt;
                if (!prev)
                  return Outcome::warning(
                      {"Could not retrieve iothub_hostname from provisioning file.\nPlease specify the "
                       "backing IoT Hub name using --iothub-hostname switch if you have that "
                       "information.\nSince no hostname is provided, all hub connectivity tests will "
                       "be skipped."});
                hostname = *prev;
              } else {
                return Outcome::ignored();
              }
              info["iothub_hostname"] = hostname;
            }
            const auto proxy = port == 443 ? ctx.proxy_uri : std::nullopt;
            if (proxy) info["proxy"] = *proxy;
            const long long timeout_sec =
                ctx.identityd->at_path("cloud_timeout_sec").value<long long>().value_or(10);
            auto err = tls_probe(hostname, port, proxy, std::chrono::seconds(timeout_sec));
            if (!err) return Outcome::ok();
            if (nested)
              err->insert(err->begin(),
                          "Make sure the parent device is reachable using 'curl https://parenthostname'. "
                          "Make sure the the trust bundle has been added to the trusted store: sudo cp "
                          "<path>/azure-iot-test-only.root.ca.cert.pem "
                          "/usr/local/share/ca-certificates/azure-iot-test-only.root.ca.cert.pem.crt\n"
                          "            sudo update-ca-certificates");
            return Outcome::failed(*err);
          }};
}

Outcome host_connect_dps(Context& ctx, Json& info) {
  if (!ctx.identityd) return Outcome::skipped();
  if (toml_string(*ctx.identityd, "provisioning.source") != "dps") return Outcome::ignored();
  const auto endpoint = toml_string(*ctx.identityd, "provisioning.global_endpoint").value_or("");
  info["dps_endpoint"] = endpoint;
  std::string rest = endpoint.substr(endpoint.find("://") == std::string::npos ? 0 : endpoint.find("://") + 3);
  std::string hostport = rest.substr(0, rest.find('/'));
  if (hostport.empty())
    return Outcome::failed({"URL specified in provisioning.global_endpoint does not have a host"});
  uint16_t port = 443;
  std::string host = hostport;
  if (auto colon = hostport.rfind(':'); colon != std::string::npos && hostport.find(']') == std::string::npos) {
    host = hostport.substr(0, colon);
    port = static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1)));
  }
  info["dps_hostname"] = host;
  if (ctx.proxy_uri) info["proxy"] = *ctx.proxy_uri;
  auto err = tls_probe(host, port, ctx.proxy_uri, std::chrono::seconds(30));
  return err ? Outcome::failed(*err) : Outcome::ok();
}

}  // namespace

std::string hostname_rfc1035_message(const std::string& prefix, const std::string& hostname) {
  return prefix + " " + hostname +
         " which does not comply with RFC 1035.\n\n"
         "- Hostname must be between 1 and 255 octets inclusive.\n"
         "- Each label in the hostname (component separated by \".\") must be between 1 and 63 "
         "octets inclusive.\n"
         "- Each label must start with an ASCII alphabet character (a-z, A-Z), end with an ASCII "
         "alphanumeric character (a-z, A-Z, 0-9), and must contain only ASCII alphanumeric "
         "characters or hyphens (a-z, A-Z, 0-9, \"-\").\n\n"
         "Not complying with RFC 1035 may cause errors during the TLS handshake with modules and "
         "downstream devices.";
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string r;
  for (const auto& p : parts) r += (r.empty() ? "" : sep) + p;
  return r;
}

Outcome check_last_modified(const Context& ctx, const std::vector<std::string>& services,
                            const std::string& program) {
  return configs_up_to_date(ctx, services, program);
}

std::vector<Section> identity_sections(const std::string& program) {
  std::vector<Section> s(2);
  s[0].name = "Configuration checks";
  s[0].checks = {
      well_formed("keyd", &Context::keyd, {"aziot_keys"}),
      well_formed("certd", &Context::certd, {"homedir_path"}),
      well_formed("tpmd", &Context::tpmd, {}),
      well_formed("identityd", &Context::identityd, {"hostname", "homedir", "provisioning"}),
      {"configs-up-to-date", "daemon configurations up-to-date with config.toml",
       [program](Context& ctx, Json&) {
         return configs_up_to_date(ctx, {"keyd", "certd", "identityd", "tpmd"}, program);
       }},
      {"hostname", "identityd config toml file specifies a valid hostname", hostname_check},
      {"aziot-version", "aziot-identity-service package is up-to-date", aziot_version},
      {"host-local-time", "host time is close to reference time", host_local_time},
      {"identity-certificate-expiry", "production readiness: identity certificates expiry",
       identity_certificate_expiry},
      {"est-identity-and-bootstrap-certificate-expiry",
       "production readiness: EST identity and bootstrap certificates expiry", est_certificate_expiry},
      {"local-ca-certificate-expiry", "production readiness: Local CA certificates expiry", local_ca_expiry},
      {"certs-preloaded", "preloaded certificates are valid", certs_preloaded},
      daemon_running("keyd", &Context::keyd_running),
      daemon_running("certd", &Context::certd_running),
      daemon_running("tpmd", &Context::tpmd_running),
      daemon_running("identityd", &Context::identityd_running),
      {"certs-read", "read all preloaded certificates from the Certificates Service", certs_read},
      {"key-pairs-read", "read all preloaded key pairs from the Keys Service", key_pairs_read},
      {"est-server-https", "check all EST server URLs utilize HTTPS", est_server_https},
      {"certs-match-private-keys",
       "ensure all preloaded certificates match preloaded private keys with the same ID",
       certs_match_private_keys},
  };
  s[1].name = "Connectivity checks";
  s[1].checks = {
      host_connect_iothub("host-connect-iothub-amqp",
                          "host can connect to and perform TLS handshake with iothub AMQP port", 5671),
      host_connect_iothub("host-connect-iothub-https",
                          "host can connect to and perform TLS handshake with iothub HTTPS / WebSockets port",
                          443),
      host_connect_iothub("host-connect-iothub-mqtt",
                          "host can connect to and perform TLS handshake with iothub MQTT port", 8883),
      {"host-connect-dps-endpoint", "host can connect to and perform TLS handshake with DPS endpoint",
       host_connect_dps},
  };
  return s;
}

}  // namespace edge::cli::check
