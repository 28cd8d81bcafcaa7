#include "identityd/cloud.h"

#include <thread>

#include "common/base64.h"
#include "common/log.h"

namespace identityd {
using edge::ErrorKind;
using edge::fail;
using edge::http::Json;

std::string encode_segment(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool escape = c < 0x20 || c >= 0x7f || c == ' ' || c == '"' || c == '#' || c == '<' ||
                  c == '>' || c == '?' || c == '`' || c == '{' || c == '}' || c == '%' ||
                  c == '/' || c == '=';
    if (escape) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

namespace {
// application/x-www-form-urlencoded value encoding (as the token serializer upstream uses).
std::string form_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '*' || c == '-' || c == '.' || c == '_')
      out += static_cast<char>(c);
    else if (c == ' ')
      out += '+';
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string hub_message(const std::string& body) {
  auto j = Json::parse(body, nullptr, false);
  if (j.is_object()) {
    for (const char* k : {"Message", "message", "errorMessage"})
      if (j.contains(k) && j[k].is_string()) {
        std::string m = j[k].get<std::string>();
        return m.size() > 512 ? m.substr(0, 512) + "..." : m;
      }
  }
  std::string b = body.size() > 200 ? body.substr(0, 200) + "..." : body;
  for (auto& c : b)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return b;
}

Result<Json> json_body(const std::string& what, const edge::cloud::Response& r) {
  const std::string* ct = r.header("content-type");
  if (!ct || ct->find("application/json") == std::string::npos)
    return edge::internal(what + " answered " + std::to_string(r.status) + " without a JSON body");
  auto j = Json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return edge::internal(what + " sent malformed JSON");
  return j;
}

// IoT Hub answers: a parent edgeHub (nested) reports its own lost upstream as 500, which
// upstream treats as a network error (so the device keeps running from its saved state).
edge::Error hub_error(const edge::cloud::Response& r) {
  auto e = cloud_error("IoT Hub", r);
  if (r.status == 500) e.kind = ErrorKind::Unavailable;
  return e;
}

Result<Module> parse_module(const Json& j) {
  if (!j.is_object() || !j.contains("moduleId") || !j["moduleId"].is_string() ||
      !j.contains("deviceId") || !j["deviceId"].is_string())
    return edge::internal("IoT Hub sent a malformed module identity");
  Module m;
  m.module_id = j["moduleId"];
  m.device_id = j["deviceId"];
  if (j.contains("generationId") && j["generationId"].is_string())
    m.generation_id = j["generationId"];
  if (j.contains("managedBy") && j["managedBy"].is_string())
    m.managed_by = j["managedBy"].get<std::string>();
  return m;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One request with upstream's retry rule: network failures are retried `retries` times.
Result<edge::cloud::Response> send_with_retries(const std::string& method, const std::string& url,
                                                const edge::cloud::HeaderList& headers,
                                                const std::string& body,
                                                const CloudOptions& options) {
  edge::cloud::Options o;
  o.timeout = options.timeout;
  o.max_response = kMaxCloudResponse;
  o.extra_roots_pem = options.extra_roots_pem;
  o.identity = options.identity;
  for (unsigned attempt = 0;; ++attempt) {
    auto r = edge::cloud::request(method, url, headers, body, o);
    if (r || !is_network_error(r.error()) || attempt >= options.retries) return r;
    edge::log::warn("Failed to send HTTP request (attempt " + std::to_string(attempt + 1) + " of " +
                    std::to_string(options.retries + 1) + "): " + r.error().message);
    std::this_thread::sleep_for(options.retry_delay);
  }
}
}  // namespace

bool is_network_error(const edge::Error& e) {
  return e.kind == ErrorKind::Unavailable || e.kind == ErrorKind::Timeout;
}

edge::Error cloud_error(const std::string& what, const edge::cloud::Response& r) {
  ErrorKind kind = r.status == 401 || r.status == 403 ? ErrorKind::Unauthorized
                   : r.status == 404                  ? ErrorKind::NotFound
                   : r.status >= 500                  ? ErrorKind::Internal
                                                      : ErrorKind::InvalidParameter;
  return edge::Error{kind,
                     what + " answered " + std::to_string(r.status) + ": " + hub_message(r.body)};
}

Result<std::string> sas_token(const std::string& audience, const Signer& sign, int64_t expiry,
                              const std::optional<std::string>& key_name) {
  std::string resource = encode_segment(lower(audience));
  std::string se = std::to_string(expiry);
  auto sig = EDGE_TRY(sign(resource + "\n" + se));
  std::string token = "SharedAccessSignature sr=" + resource +
                      "&sig=" + form_encode(edge::base64::encode(sig)) + "&se=" + se;
  if (key_name) token += "&skn=" + form_encode(*key_name);
  return token;
}

Result<edge::cloud::Response> HubClient::send(const std::string& method,
                                              const std::string& module_id,
                                              const std::optional<Json>& body, bool if_match) {
  std::string url =
      "https://" + target_.host + "/devices/" + encode_segment(target_.device_id) + "/modules";
  if (!module_id.empty()) url += "/" + encode_segment(module_id);
  url += std::string("?api-version=") + kHubApiVersion;
  edge::cloud::HeaderList headers;
  if (signer_) {
    auto token =
        sas_token(target_.hub + "/devices/" + target_.device_id, *signer_, now_seconds() + 30);
    if (!token) return fail(token.error().context("could not sign a token for IoT Hub"));
    headers.emplace_back("Authorization", *token);
  }
  if (if_match) headers.emplace_back("If-Match", "*");
  if (body) headers.emplace_back("Content-Type", "application/json");
  auto r = send_with_retries(method, url, headers, body ? body->dump() : std::string(), options_);
  if (!r) return fail(r.error().context("IoT Hub " + target_.host));
  return r;
}

Result<Module> HubClient::create_module(const std::string& module_id) {
  Json body{{"moduleId", module_id}, {"deviceId", target_.device_id}};
  auto r = EDGE_TRY(send("PUT", module_id, body, false));
  if (r.status != 200 && r.status != 201) return fail(hub_error(r));
  return parse_module(EDGE_TRY(json_body("IoT Hub", r)));
}

Result<Module> HubClient::update_module_keys(const std::string& module_id,
                                             const std::string& primary,
                                             const std::string& secondary) {
  Json body{{"moduleId", module_id},
            {"deviceId", target_.device_id},
            {"authentication",
             {{"type", "sas"},
              {"symmetricKey",
               {{"primaryKey", edge::base64::encode(primary)},
                {"secondaryKey", edge::base64::encode(secondary)}}}}}};
  auto r = EDGE_TRY(send("PUT", module_id, body, true));
  if (r.status != 200 && r.status != 201) return fail(hub_error(r));
  return parse_module(EDGE_TRY(json_body("IoT Hub", r)));
}

Result<Module> HubClient::get_module(const std::string& module_id) {
  auto r = EDGE_TRY(send("GET", module_id, std::nullopt, false));
  if (r.status != 200) return fail(hub_error(r));
  return parse_module(EDGE_TRY(json_body("IoT Hub", r)));
}

Result<std::vector<Module>> HubClient::list_modules() {
  auto r = EDGE_TRY(send("GET", "", std::nullopt, false));
  if (r.status != 200) return fail(hub_error(r));
  auto j = EDGE_TRY(json_body("IoT Hub", r));
  if (!j.is_array()) return edge::internal("IoT Hub sent a malformed module list");
  std::vector<Module> out;
  for (const auto& m : j) out.push_back(EDGE_TRY(parse_module(m)));
  return out;
}

Status HubClient::delete_module(const std::string& module_id) {
  auto r = EDGE_TRY(send("DELETE", module_id, std::nullopt, true));
  if (r.status != 204 && r.status != 200) return fail(hub_error(r));
  return {};
}

namespace {
// DPS's "authenticationKey" (base64) imported through tpmd; `where` names the answer it came in.
Status import_authentication_key(const DpsTpm& tpm, const Json& value, const std::string& where) {
  if (!value.is_string())
    return edge::internal("DPS sent " + where + " without an authenticationKey");
  auto blob = edge::base64::decode(value.get<std::string>());
  if (!blob || blob->empty() || blob->size() > kMaxAuthKeyBlob)
    return edge::internal("DPS sent " + where +
                          " whose authenticationKey is not a base64 blob of 1.." +
                          std::to_string(kMaxAuthKeyBlob) + " bytes");
  auto imported = tpm.import_auth_key(*blob);
  if (!imported)
    return fail(
        imported.error().context("could not import the DPS authentication key into the TPM"));
  return {};
}

// The unauthenticated first request of TPM attestation: DPS must answer 401 with the key.
Status tpm_challenge(const std::string& url, const DpsRequest& req, const CloudOptions& options) {
  Json body{{"registrationId", req.registration_id},
            {"tpm",
             {{"endorsementKey", edge::base64::encode(req.tpm->endorsement_key)},
              {"storageRootKey", edge::base64::encode(req.tpm->storage_root_key)}}}};
  if (req.payload) body["payload"] = *req.payload;
  edge::cloud::HeaderList headers{{"Content-Type", "application/json"},
                                  {"Accept", "application/json"}};
  auto r = send_with_retries("PUT", url, headers, body.dump(), options);
  if (!r) return fail(r.error().context("DPS"));
  if (r->status != 401)
    return fail(cloud_error("DPS", *r).context("TPM attestation expected a 401 challenge"));
  auto j = Json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("authenticationKey")) return fail(cloud_error("DPS", *r));
  return import_authentication_key(*req.tpm, j["authenticationKey"], "a TPM challenge");
}
}  // namespace

Result<DpsAssignment> dps_register(const DpsRequest& req, const CloudOptions& options) {
  std::string base = req.endpoint;
  while (base.ends_with("/")) base.pop_back();
  std::string prefix = base + "/" + encode_segment(req.scope_id) + "/registrations/" +
                       encode_segment(req.registration_id);
  std::string query = std::string("?api-version=") + kDpsApiVersion;
  if (req.tpm) EDGE_TRY_VOID(tpm_challenge(prefix + "/register" + query, req, options));
  edge::cloud::HeaderList headers{{"Content-Type", "application/json"},
                                  {"Accept", "application/json"}};
  if (req.signer) {
    auto token = sas_token(req.scope_id + "/registrations/" + req.registration_id, *req.signer,
                           now_seconds() + 30, std::string("registration"));
    if (!token) return fail(token.error().context("could not sign a token for DPS"));
    headers.emplace_back("Authorization", *token);
  }
  Json body{{"registrationId", req.registration_id}};
  if (req.payload) body["payload"] = *req.payload;

  auto r = send_with_retries("PUT", prefix + "/register" + query, headers, body.dump(), options);
  if (!r) return fail(r.error().context("DPS"));
  if (r->status != 202 && r->status != 200) return fail(cloud_error("DPS", *r));
  auto j = EDGE_TRY(json_body("DPS", *r));
  if (!j.is_object() || !j.contains("operationId") || !j["operationId"].is_string())
    return edge::internal("DPS sent a registration answer without operationId");
  std::string op = j["operationId"];
  auto delay = [&](const edge::cloud::Response& resp) {
    auto wait = std::chrono::milliseconds(options.max_poll_wait);
    if (const auto* ra = resp.header("retry-after")) {
      try {
        wait = std::min(wait, std::chrono::milliseconds(std::max(1L, std::stol(*ra)) * 1000));
      } catch (...) {
      }
    }
    std::this_thread::sleep_for(wait);
  };
  delay(*r);
  edge::cloud::HeaderList poll_headers = headers;
  poll_headers.erase(poll_headers.begin());  // no Content-Type on GET
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  for (;;) {
    if (std::chrono::steady_clock::now() > deadline)
      return fail(ErrorKind::Timeout, "DPS registration did not finish within " +
                                          std::to_string(options.timeout.count() / 1000) + " s");
    auto s = send_with_retries("GET", prefix + "/operations/" + encode_segment(op) + query,
                               poll_headers, "", options);
    if (!s) return fail(s.error().context("DPS"));
    if (s->status != 200 && s->status != 202) return fail(cloud_error("DPS", *s));
    auto st = EDGE_TRY(json_body("DPS", *s));
    std::string status = st.is_object() && st.contains("status") && st["status"].is_string()
                             ? st["status"].get<std::string>()
                             : "";
    if (status == "assigning" || status == "unassigned") {
      edge::log::info("DPS registration is still in progress.");
      delay(*s);
      continue;
    }
    if (status != "assigned") {
      std::string detail;
      if (st.is_object() && st.contains("registrationState") &&
          st["registrationState"].is_object()) {
        const auto& rs = st["registrationState"];
        if (rs.contains("errorMessage") && rs["errorMessage"].is_string())
          detail = ": " + rs["errorMessage"].get<std::string>();
      }
      return fail(ErrorKind::Unauthorized,
                  "DPS registration " +
                      (status.empty() ? std::string("answer is malformed")
                                      : "failed with status \"" + status + "\"") +
                      detail);
    }
    const auto* rs = st.contains("registrationState") ? &st["registrationState"] : nullptr;
    if (!rs || !rs->is_object() || !rs->contains("assignedHub") ||
        !(*rs)["assignedHub"].is_string() || !rs->contains("deviceId") ||
        !(*rs)["deviceId"].is_string())
      return edge::internal("DPS sent an assignment without assignedHub or deviceId");
    if (req.tpm && rs->contains("tpm")) {
      const Json& t = (*rs)["tpm"];
      EDGE_TRY_VOID(import_authentication_key(
          *req.tpm,
          t.is_object() && t.contains("authenticationKey") ? t["authenticationKey"] : Json(),
          "an assignment"));
      edge::log::info("Imported DPS authentication key into TPM.");
    }
    DpsAssignment a;
    a.assigned_hub = (*rs)["assignedHub"];
    a.device_id = (*rs)["deviceId"];
    if (rs->contains("payload") && !(*rs)["payload"].is_null()) a.payload = (*rs)["payload"];
    return a;
  }
}

}  // namespace identityd
