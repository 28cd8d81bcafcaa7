#include "edged/workload_config.h"

#include <charconv>

#include "common/config.h"

namespace edged {
using edge::config::Reader;

edge::Result<RenewalTime> parse_renewal_time(const std::string& text) {
  auto number = [&](std::string_view digits) -> std::optional<long long> {
    long long v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || p != digits.data() + digits.size() || v <= 0) return std::nullopt;
    return v;
  };
  std::string_view t = text;
  if (t.ends_with("%")) {
    auto v = number(t.substr(0, t.size() - 1));
    if (!v || *v > 99) return edge::invalid("invalid renewal time \"" + text + "\": percentage must be 1..99");
    return RenewalTime{static_cast<int>(*v), 0};
  }
  for (auto [suffix, unit] : {std::pair<std::string_view, long long>{"min", 60}, {"day", 86400}}) {
    if (!t.ends_with(suffix)) continue;
    auto v = number(t.substr(0, t.size() - suffix.size()));
    if (!v || *v > 365LL * 100 * 1440) break;
    return RenewalTime{0, *v * unit};
  }
  return edge::invalid("invalid renewal time \"" + text + "\": expected \"<n>%\", \"<n>min\" or \"<n>day\"");
}

namespace {
edge::Result<Subject> read_subject(const Reader& r) {
  const toml::node* node = r.table().get("subject");
  if (!node) return Subject{};
  if (auto s = node->value<std::string>()) {
    if (s->empty()) return r.error_at("subject", "must not be empty");
    return Subject{{"CN", *s}};
  }
  const auto* t = EDGE_TRY(r.opt_table("subject"));
  Subject out;
  Reader sr(*t, r.key_path("subject"));
  for (const auto& [k, v] : *t) {
    auto value = EDGE_TRY(sr.string(k.str()));
    out.emplace_back(std::string(k.str()), value);
  }
  if (out.empty()) return r.error_at("subject", "must name at least one field");
  return out;
}

edge::Result<std::optional<AutoRenew>> read_auto_renew(const Reader& ca) {
  const auto* t = EDGE_TRY(ca.opt_table("auto_renew"));
  if (!t) return std::optional<AutoRenew>();
  Reader r(*t, ca.key_path("auto_renew"));
  AutoRenew a;
  if (auto v = EDGE_TRY(r.opt_bool("rotate_key"))) a.rotate_key = *v;
  for (auto [key, field] : {std::pair{"threshold", &a.threshold}, std::pair{"retry", &a.retry}}) {
    if (auto v = EDGE_TRY(r.opt_string(key))) {
      auto parsed = parse_renewal_time(*v);
      if (!parsed) return r.error_at(key, parsed.error().message);
      *field = *parsed;
    }
  }
  return std::optional<AutoRenew>(a);
}

std::string socket_of(const std::string& uri) {
  return uri.starts_with("unix://") ? uri.substr(7) : uri;
}
}  // namespace

edge::Result<WorkloadSettings> load_workload_settings(const toml::table& table) {
  Reader top(table);
  WorkloadSettings w;
  if (auto v = EDGE_TRY(top.opt_string("hostname"))) w.hostname = *v;
  if (auto v = EDGE_TRY(top.opt_string("trust_bundle_cert"))) w.trust_bundle_cert = *v;
  if (auto v = EDGE_TRY(top.opt_string("manifest_trust_bundle_cert"))) w.manifest_trust_bundle_cert = *v;
  if (const auto* ca = EDGE_TRY(top.opt_table("edge_ca"))) {
    Reader r(*ca, "edge_ca");
    if (auto v = EDGE_TRY(r.opt_string("cert"))) w.edge_ca.cert_id = *v;
    if (auto v = EDGE_TRY(r.opt_string("key"))) w.edge_ca.key_id = *v;
    w.edge_ca.subject = EDGE_TRY(read_subject(r));
    w.edge_ca.auto_renew = EDGE_TRY(read_auto_renew(r));
  }
  if (const auto* t = EDGE_TRY(top.opt_table("listen"))) {
    if (auto v = EDGE_TRY(Reader(*t, "listen").opt_string("workload_uri"))) w.listen_workload_uri = *v;
  }
  if (const auto* t = EDGE_TRY(top.opt_table("connect"))) {
    if (auto v = EDGE_TRY(Reader(*t, "connect").opt_string("workload_uri"))) w.connect_workload_uri = *v;
  }
  if (const auto* t = EDGE_TRY(top.opt_table("iotedge_max_requests"))) {
    if (auto v = EDGE_TRY(Reader(*t, "iotedge_max_requests").opt_int("workload", 1, 10000)))
      w.max_workload_requests = static_cast<size_t>(*v);
  }
  if (const auto* t = EDGE_TRY(top.opt_table("endpoints"))) {
    Reader r(*t, "endpoints");
    for (auto [key, field] : {std::pair{"aziot_keyd_url", &w.keyd_socket},
                              std::pair{"aziot_certd_url", &w.certd_socket},
                              std::pair{"aziot_identityd_url", &w.identityd_socket}}) {
      auto v = EDGE_TRY(r.opt_string(key));
      if (!v) continue;
      if (!v->starts_with("unix://")) return r.error_at(key, "only unix:// URIs are supported");
      *field = socket_of(*v);
    }
  }
  return w;
}

}  // namespace edged
