#include "agent/upstream/tls.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>  // error codes only
#include <poll.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/random.h"

namespace agent::upstream {
using edge::ErrorKind;
using edge::fail;
using edge::Result;
using edge::Status;
using Clock = std::chrono::steady_clock;

namespace {
int rng(void*, unsigned char* out, size_t size) {
  return edge::fill_random(out, size) ? 0 : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
}

int net_send(void* ctx, const unsigned char* buf, size_t len) {
  ssize_t n = ::send(*static_cast<int*>(ctx), buf, len, MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
  if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

int net_recv(void* ctx, unsigned char* buf, size_t len) {
  ssize_t n = ::recv(*static_cast<int*>(ctx), buf, len, 0);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
  if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
  return MBEDTLS_ERR_NET_RECV_FAILED;
}

// Mbed TLS 2.28 matches only DNS names: an IP literal host is checked here against the leaf's
// iPAddress subjectAltNames (context tag 7, the address bytes).
int check_ip(void* ctx, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
  const auto* want = static_cast<const TlsSession::IpName*>(ctx);
  if (depth != 0 || want->len == 0) return 0;
  for (const mbedtls_x509_sequence* s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
    if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && s->buf.len == want->len &&
        std::memcmp(s->buf.p, want->bytes, want->len) == 0)
      return 0;
  *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
  return 0;
}

std::string verify_text(uint32_t flags) {
  char buf[1024];
  if (mbedtls_x509_crt_verify_info(buf, sizeof buf, "", flags) < 0) return "unknown reason";
  std::string out;
  std::istringstream lines(buf);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) out += (out.empty() ? "" : "; ") + line;
  return out;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return in.good() || in.eof();
}

// Did `root` (by subject) issue a certificate of `chain`?
bool issued_any(const mbedtls_x509_crt& root, const mbedtls_x509_crt* chain) {
  for (const mbedtls_x509_crt* c = chain; c && c->raw.p; c = c->next)
    if (c->issuer_raw.len == root.subject_raw.len &&
        std::memcmp(c->issuer_raw.p, root.subject_raw.p, root.subject_raw.len) == 0)
      return true;
  return false;
}

// Adds the certificates of one PEM/DER file that issued part of `chain` to `roots`.
void add_issuers_from(const std::string& path, const mbedtls_x509_crt* chain,
                      mbedtls_x509_crt* roots) {
  std::string text;
  if (!read_file(path, text) || text.empty()) return;
  mbedtls_x509_crt file;
  mbedtls_x509_crt_init(&file);
  // PEM input is parsed with its terminating NUL; a bundle file may hold many certificates.
  (void)mbedtls_x509_crt_parse(&file, reinterpret_cast<const unsigned char*>(text.c_str()),
                               text.size() + 1);
  for (const mbedtls_x509_crt* c = &file; c && c->raw.p; c = c->next)
    if (issued_any(*c, chain)) (void)mbedtls_x509_crt_parse_der(roots, c->raw.p, c->raw.len);
  mbedtls_x509_crt_free(&file);
}

// OpenSSL's hashed directory names: 8 hex digits, '.', a number.
bool hashed_name(const char* name) {
  size_t i = 0;
  for (; i < 8; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(name[i]))) return false;
  if (name[i++] != '.' || !name[i]) return false;
  for (; name[i]; ++i)
    if (!std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  return true;
}

// The system roots that could anchor `chain`, as OpenSSL would find them.
void load_system_issuers(const mbedtls_x509_crt* chain, mbedtls_x509_crt* roots) {
  if (const char* file = std::getenv("SSL_CERT_FILE"); file && *file)
    add_issuers_from(file, chain, roots);
  const char* dirs = std::getenv("SSL_CERT_DIR");
  std::string list = dirs && *dirs ? dirs : "/etc/ssl/certs";
  std::istringstream parts(list);
  for (std::string dir; std::getline(parts, dir, ':');) {
    if (dir.empty()) continue;
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d))
      if (hashed_name(e->d_name)) add_issuers_from(dir + "/" + e->d_name, chain, roots);
    ::closedir(d);
  }
}
}  // namespace

TlsSession::TlsSession(int fd, std::string what) : fd_(fd), what_(std::move(what)) {
  mbedtls_ssl_config_init(&conf_);
  mbedtls_ssl_init(&ssl_);
  mbedtls_x509_crt_init(&bundle_);
}

TlsSession::~TlsSession() {
  (void)mbedtls_ssl_close_notify(&ssl_);  // best effort: the socket may be full or gone
  mbedtls_ssl_free(&ssl_);
  mbedtls_ssl_config_free(&conf_);
  mbedtls_x509_crt_free(&bundle_);
}

std::string TlsSession::error_text(int rc) const {
  char buf[200];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

Result<std::unique_ptr<TlsSession>> TlsSession::connect(int fd, const TlsOptions& options,
                                                        Clock::time_point deadline,
                                                        const std::string& what) {
  std::unique_ptr<TlsSession> s(new TlsSession(fd, what));
  EDGE_TRY_VOID(s->handshake(options, deadline));
  return s;
}

Status TlsSession::handshake(const TlsOptions& o, Clock::time_point deadline) {
  int rc = mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                       MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return edge::internal("TLS configuration: " + error_text(rc));
  mbedtls_ssl_conf_min_version(&conf_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_rng(&conf_, rng, nullptr);
  mbedtls_ssl_conf_session_tickets(&conf_, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
  // Verified here after the handshake (bundle first, then the system roots), never skipped:
  // OPTIONAL only lets the handshake finish so that the fallback can run.
  mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_OPTIONAL);
  if (!o.trust_bundle_pem.empty())
    (void)mbedtls_x509_crt_parse(&bundle_,
                                 reinterpret_cast<const unsigned char*>(o.trust_bundle_pem.c_str()),
                                 o.trust_bundle_pem.size() + 1);
  if (bundle_.raw.p) mbedtls_ssl_conf_ca_chain(&conf_, &bundle_, nullptr);
  bool ip4 = ::inet_pton(AF_INET, o.host.c_str(), ip_.bytes) == 1;
  bool ip6 = !ip4 && ::inet_pton(AF_INET6, o.host.c_str(), ip_.bytes) == 1;
  ip_.len = ip4 ? 4 : ip6 ? 16 : 0;
  mbedtls_ssl_conf_verify(&conf_, check_ip, &ip_);
  rc = mbedtls_ssl_setup(&ssl_, &conf_);
  if (rc != 0) return edge::internal("TLS setup: " + error_text(rc));
  // A name goes out as SNI and is matched against the certificate; an address is not sent.
  rc = mbedtls_ssl_set_hostname(&ssl_, ip_.len ? nullptr : o.host.c_str());
  if (rc != 0) return edge::invalid("TLS host name " + o.host + ": " + error_text(rc));
  mbedtls_ssl_set_bio(&ssl_, &fd_, net_send, net_recv, nullptr);

  std::string failed = "TLS handshake with " + what_ + " failed: ";
  while ((rc = mbedtls_ssl_handshake(&ssl_)) != 0) {
    if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
      return fail(ErrorKind::Unavailable, failed + error_text(rc));
    if (!edge::cloud::wait_fd(fd_, rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, deadline))
      return fail(ErrorKind::Timeout, "TLS handshake with " + what_ + " timed out");
  }
  uint32_t flags = mbedtls_ssl_get_verify_result(&ssl_);
  const mbedtls_x509_crt* chain = mbedtls_ssl_get_peer_cert(&ssl_);
  if (flags != 0 && o.system_roots && chain) {
    // Whatever the roots, a wrong key usage stays wrong.
    uint32_t usage = flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
                              MBEDTLS_X509_BADCERT_NS_CERT_TYPE);
    mbedtls_x509_crt roots;
    mbedtls_x509_crt_init(&roots);
    load_system_issuers(chain, &roots);
    for (const mbedtls_x509_crt* c = &bundle_; c && c->raw.p; c = c->next)
      (void)mbedtls_x509_crt_parse_der(&roots, c->raw.p, c->raw.len);
    uint32_t second = 0;
    rc = mbedtls_x509_crt_verify(const_cast<mbedtls_x509_crt*>(chain),
                                 roots.raw.p ? &roots : nullptr, nullptr,
                                 ip_.len ? nullptr : o.host.c_str(), &second, check_ip, &ip_);
    mbedtls_x509_crt_free(&roots);
    flags = (rc == 0 ? 0 : second ? second : MBEDTLS_X509_BADCERT_OTHER) | usage;
  }
  // The bundle is not needed after the handshake (renegotiation stays off).
  mbedtls_ssl_conf_ca_chain(&conf_, nullptr, nullptr);
  mbedtls_x509_crt_free(&bundle_);
  mbedtls_x509_crt_init(&bundle_);
  if (flags != 0)
    return fail(ErrorKind::Unavailable,
                failed + "server certificate not trusted: " + verify_text(flags));
  return {};
}

Result<size_t> TlsSession::write_some(std::string_view data) {
  size_t len = pending_write_ ? std::min(pending_write_, data.size()) : data.size();
  int rc = mbedtls_ssl_write(&ssl_, reinterpret_cast<const unsigned char*>(data.data()), len);
  if (rc > 0) {
    pending_write_ = 0;
    return static_cast<size_t>(rc);
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ) {
    pending_write_ = len;
    wants_ = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
    return size_t{0};
  }
  return fail(ErrorKind::Unavailable, "could not send to " + what_ + ": " + error_text(rc));
}

Result<size_t> TlsSession::read_some(char* buf, size_t size) {
  int rc = mbedtls_ssl_read(&ssl_, reinterpret_cast<unsigned char*>(buf), size);
  if (rc > 0) return static_cast<size_t>(rc);
  if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
    wants_ = rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
    return size_t{0};
  }
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF ||
      rc == MBEDTLS_ERR_NET_CONN_RESET) {
    closed_ = true;
    return fail(ErrorKind::Unavailable, what_ + " closed the connection");
  }
  return fail(ErrorKind::Unavailable, "could not read from " + what_ + ": " + error_text(rc));
}

bool TlsSession::has_buffered_input() const {
  return mbedtls_ssl_get_bytes_avail(&ssl_) > 0 || mbedtls_ssl_check_pending(&ssl_) != 0;
}

Status TlsByteStream::write(std::string_view data) {
  while (!data.empty()) {
    auto n = EDGE_TRY(session_->write_some(data));
    if (n > 0) {
      data.remove_prefix(n);
    } else if (!edge::cloud::wait_fd(session_->fd(), session_->wants(), deadline_)) {
      return fail(ErrorKind::Timeout, "timed out talking to " + session_->what());
    }
  }
  return {};
}

Result<size_t> TlsByteStream::read(char* buf, size_t size) {
  for (;;) {
    auto n = session_->read_some(buf, size);
    if (!n) return session_->closed() ? Result<size_t>(0) : std::unexpected(n.error());
    if (*n > 0) return *n;
    if (!session_->has_buffered_input() &&
        !edge::cloud::wait_fd(session_->fd(), session_->wants(), deadline_))
      return fail(ErrorKind::Timeout, "timed out talking to " + session_->what());
  }
}

edge::cloud::TlsConnector tls_connector(std::string trust_bundle_pem, bool system_roots) {
  return [pem = std::move(trust_bundle_pem), system_roots](
             int fd, const edge::cloud::Url& url,
             Clock::time_point deadline) -> Result<std::unique_ptr<edge::cloud::ByteStream>> {
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    auto session = EDGE_TRY(TlsSession::connect(fd, TlsOptions{url.host, pem, system_roots},
                                                deadline, host + ":" + std::to_string(url.port)));
    return std::unique_ptr<edge::cloud::ByteStream>(
        std::make_unique<TlsByteStream>(std::move(session), deadline));
  };
}

}  // namespace agent::upstream
