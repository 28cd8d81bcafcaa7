#include "agent/upstream/blob.h"

#include <chrono>
#include <thread>

#include "agent/upstream/tls.h"
#include "common/uri.h"

namespace agent::upstream {

namespace {
std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// Each '/'-separated segment of a blob name percent-encoded.
std::string encode_name(const std::string& name) {
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    out += edge::uri::percent_encode(name.substr(start, slash - start));
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}
}  // namespace

edge::Result<BlobContainer> BlobContainer::open(const std::string& sas_url,
                                                const std::string& gateway,
                                                const std::string& trust_pem) {
  std::string url = sas_url;
  if (auto at = url.find("$upstream"); at != std::string::npos && !gateway.empty())
    url.replace(at, 9, gateway);
  auto parsed = edge::cloud::parse_https_url(url);
  // The parser's message quotes the URL, and with it the SAS signature: say it without.
  if (!parsed)
    return edge::fail(edge::ErrorKind::InvalidParameter,
                      "invalid sasUrl: not an https:// URL with a host (credentials and other "
                      "schemes are refused)");
  std::string target = parsed->target;
  auto q = target.find('?');
  std::string path = target.substr(0, q);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.size() <= 1)
    return edge::fail(edge::ErrorKind::InvalidParameter,
                      "invalid sasUrl: it names no blob container");
  BlobContainer c;
  c.base_ = url.substr(0, url.find('/', 8)) + path;
  c.query_ = q == std::string::npos ? "" : target.substr(q + 1);
  c.trust_pem_ = trust_pem;
  c.options_.max_response = 64 * 1024;
  c.options_.timeout = std::chrono::milliseconds(60000);
  return c;
}

edge::Status BlobContainer::put(const std::string& name, const std::string& comp,
                                const edge::cloud::HeaderList& headers,
                                const std::string& body) const {
  std::string query = comp.empty() ? query_ : "comp=" + comp + (query_.empty() ? "" : "&" + query_);
  std::string url = base_ + "/" + encode_name(name) + (query.empty() ? "" : "?" + query);
  edge::cloud::HeaderList h = headers;
  h.emplace_back("x-ms-version", "2020-04-08");
  h.emplace_back("x-ms-date", http_date(std::time(nullptr)));
  // Upstream retries twice; here only what may pass on a retry: no answer or a 5xx.
  auto tls = tls_connector(trust_pem_);
  for (int attempt = 0;; ++attempt) {
    auto r = edge::cloud::request_over(tls, "PUT", url, h, body, options_);
    bool transient = !r || r->status >= 500;
    if (r && r->status / 100 == 2) return {};
    if (!transient || attempt == 2) {
      // The SAS (query) never goes into a message.
      std::string where = "blob " + name;
      if (!r)
        return edge::fail(r.error().kind, "could not upload " + where + ": " + r.error().message);
      std::string code;
      if (const auto* c = r->header("x-ms-error-code")) code = " " + *c;
      return edge::fail(
          r->status == 403 ? edge::ErrorKind::Forbidden : edge::ErrorKind::Unavailable,
          "could not upload " + where + ": the storage service answered " +
              std::to_string(r->status) + code);
    }
    std::this_thread::sleep_for(std::chrono::seconds(2 << attempt));
  }
}

edge::Status BlobContainer::put_block_blob(const std::string& name, const std::string& body,
                                           const std::string& content_type,
                                           const std::string& content_encoding) const {
  edge::cloud::HeaderList h{{"x-ms-blob-type", "BlockBlob"}};
  if (!content_type.empty()) h.emplace_back("x-ms-blob-content-type", content_type);
  if (!content_encoding.empty()) h.emplace_back("x-ms-blob-content-encoding", content_encoding);
  return put(name, "", h, body);
}

edge::Status BlobContainer::create_append_blob(const std::string& name,
                                               const std::string& content_type,
                                               const std::string& content_encoding) const {
  edge::cloud::HeaderList h{{"x-ms-blob-type", "AppendBlob"}};
  if (!content_type.empty()) h.emplace_back("x-ms-blob-content-type", content_type);
  if (!content_encoding.empty()) h.emplace_back("x-ms-blob-content-encoding", content_encoding);
  return put(name, "", h, "");
}

edge::Status BlobContainer::append_block(const std::string& name, const std::string& body) const {
  if (body.size() > kMaxAppendBlock)
    return edge::fail(edge::ErrorKind::PayloadTooLarge, "append block over 4 MiB");
  return put(name, "appendblock", {}, body);
}

std::string blob_name(const std::string& hub, const std::string& device, const std::string& id,
                      const std::string& extension, std::time_t now) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d--%H-%M-%S", &tm);
  return hub + "/" + device + "/" + id + "-" + stamp + "." + extension;
}

}  // namespace agent::upstream
