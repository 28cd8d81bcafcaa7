// Checks upstream lacks: the Edge CA's expiry (read through certd) and whether the edge hub's
// server certificate names the configured hostname; plus how we find a service's https_proxy
// when systemd is not running (unit files, drop-ins, the live process).
#include <dirent.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <memory>

#include "cli/check/checks.h"
#include "cli/system.h"
#include "common/http/client.h"

namespace edge::cli::check {
namespace {

std::string certd_socket(const Context& ctx) {
  if (ctx.identityd)
    if (auto v = toml_string(*ctx.identityd, "endpoints.aziot_certd")) return strip_scheme(*v);
  if (ctx.certd)
    if (auto v = toml_string(*ctx.certd, "endpoints.aziot_certd")) return strip_scheme(*v);
  return ctx.path("/run/aziot/certd.sock");
}

Outcome edge_ca_expiry(Context& ctx, Json& info) {
  if (!ctx.certd_running) return Outcome::skipped();
  http::UnixClient client(certd_socket(ctx), std::chrono::seconds(10));
  auto r = client.request("GET", "/certificates/aziot-edged-ca?api-version=2020-09-01");
  if (!r) return Outcome::failed({"Could not read the Edge CA certificate from certd", r.error().message});
  // Not created by edged yet (certd answers 404, or 400 "not found" as upstream's does).
  if (r->status == 404 || (r->status == 400 && r->message().find("not found") != std::string::npos))
    return Outcome::ignored();
  auto j = r->json();
  if (r->status != 200 || !j || !j->contains("pem") || !(*j)["pem"].is_string())
    return Outcome::failed({"Could not read the Edge CA certificate from certd", r->message()});
  auto v = pem_validity((*j)["pem"].get<std::string>());
  if (!v) return Outcome::failed({"Could not parse the Edge CA certificate", v.error().message});
  info["certificate_info"] = validity_json(*v, "Edge CA", "aziot-edged-ca");
  return validity_outcome(*v, "Edge CA", "aziot-edged-ca", static_cast<long long>(std::time(nullptr)));
}

// Common name and DNS / IP subject alternative names of a PEM certificate.
std::vector<std::string> cert_names(const std::string& pem, std::string* cn_out) {
  std::vector<std::string> names;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) return names;
  char cn[256] = {};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn) > 0) {
    names.emplace_back(cn);
    *cn_out = cn;
  }
  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
    if (n->type == GEN_DNS) {
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                         static_cast<size_t>(ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD && ASN1_STRING_length(n->d.iPAddress) == 4) {
      const unsigned char* a = ASN1_STRING_get0_data(n->d.iPAddress);
      names.push_back(std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) +
                      "." + std::to_string(a[3]));
    }
  }
  GENERAL_NAMES_free(sans);
  return names;
}

Outcome edge_hub_cert_hostname(Context& ctx, Json& info) {
  if (!ctx.edged) return Outcome::skipped();
  const std::string hostname = toml_string(*ctx.edged, "hostname").value_or("");
  if (hostname.empty()) return Outcome::skipped();
  for (uint16_t port : {uint16_t{8883}, uint16_t{443}, uint16_t{5671}}) {
    auto pem = peer_certificate(hostname, port, hostname, std::chrono::seconds(5));
    if (!pem) continue;
    std::string cn;
    auto names = cert_names(*pem, &cn);
    info["hostname"] = hostname;
    info["port"] = port;
    info["common_name"] = cn;
    auto lower = [](std::string s) {
      std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
      return s;
    };
    if (std::any_of(names.begin(), names.end(), [&](const std::string& n) { return lower(n) == lower(hostname); }))
      return Outcome::ok();
    return Outcome::warning(
        {"The edge hub's server certificate on " + hostname + ":" + std::to_string(port) +
         " has common name \"" + cn + "\", which does not match the configured hostname " + hostname +
         ".\nModules and downstream devices that connect to " + hostname +
         " will fail the TLS handshake.\nRestart edgeHub after changing the hostname so it requests a new "
         "server certificate."});
  }
  return Outcome::ignored();  // no edge hub answering TLS on this host
}

std::optional<std::string> proxy_in_environment_line(const std::string& text) {
  // "Environment=a=b https_proxy=http://x:3128" (systemctl show / unit files); quotes allowed.
  for (const std::string key : {"https_proxy=", "HTTPS_PROXY="}) {
    size_t pos = 0;
    while ((pos = text.find(key, pos)) != std::string::npos) {
      if (pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == '=' || text[pos - 1] == '"' || text[pos - 1] == '\n') {
        size_t start = pos + key.size();
        size_t end = text.find_first_of(" \"\n", start);
        return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
      }
      pos += key.size();
    }
  }
  return std::nullopt;
}

std::optional<std::string> proxy_from_units(const Context& ctx, const std::string& unit) {
  std::optional<std::string> found;
  auto scan = [&](const std::string& path) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with("Environment="))
        if (auto p = proxy_in_environment_line(line)) found = p;  // later files win
  };
  for (const char* dir : {"/lib/systemd/system/", "/usr/lib/systemd/system/", "/etc/systemd/system/"})
    scan(ctx.path(std::string(dir) + unit));
  const std::string dropins = ctx.path("/etc/systemd/system/" + unit + ".d");
  if (DIR* d = ::opendir(dropins.c_str())) {
    std::vector<std::string> files;
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name).ends_with(".conf")) files.push_back(e->d_name);
    ::closedir(d);
    std::sort(files.begin(), files.end());
    for (const auto& f : files) scan(dropins + "/" + f);
  }
  return found;
}

// https_proxy of a running process whose executable is named `name` (when we may read it).
std::optional<std::string> proxy_from_process(const std::string& name) {
  DIR* d = ::opendir("/proc");
  if (!d) return std::nullopt;
  std::optional<std::string> found;
  while (dirent* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const std::string base = std::string("/proc/") + e->d_name;
    auto comm = read_small_file(base + "/comm");
    if (!comm || comm->substr(0, comm->find('\n')) != name.substr(0, 15)) continue;
    auto env = read_small_file(base + "/environ");
    if (!env) continue;
    size_t start = 0;
    while (start < env->size()) {
      size_t end = env->find('\0', start);
      std::string var = env->substr(start, end - start);
      if (var.starts_with("https_proxy=")) found = var.substr(12);
      else if (var.starts_with("HTTPS_PROXY=") && !found) found = var.substr(12);
      if (end == std::string::npos) break;
      start = end + 1;
    }
    if (found) break;
  }
  ::closedir(d);
  return found;
}

}  // namespace

std::optional<std::string> service_proxy(const Context& ctx, const std::string& service) {
  const std::string unit = service.ends_with(".service") ? service : service + ".service";
  if (systemd_running()) {
    std::string out, err;
    const char* systemctl = std::getenv("EDGE_CLI_SYSTEMCTL");
    if (run_captured({systemctl && *systemctl ? systemctl : "systemctl", "show", "--property=Environment", unit}, &out, &err) == 0)
      return proxy_in_environment_line(out);
    return std::nullopt;
  }
  if (auto p = proxy_from_units(ctx, unit)) return p;
  const std::string process = service == "docker" ? "dockerd" : service;
  return proxy_from_process(process);
}

std::vector<Check> extra_checks() {
  return {
      {"edge-ca-certificate-expiry", "production readiness: Edge CA certificate expiry", edge_ca_expiry},
      {"edge-hub-server-cert-hostname", "edge hub's server certificate matches the configured hostname",
       edge_hub_cert_hostname},
  };
}

}  // namespace edge::cli::check
