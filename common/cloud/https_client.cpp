#include "common/cloud/https_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <memory>

namespace edge::cloud {
namespace {
using Clock = std::chrono::steady_clock;

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  std::string out;
  while (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
    e = ERR_get_error();
  }
  return out.empty() ? "unknown TLS error" : out;
}

using SslCtx = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using SslPtr = std::unique_ptr<SSL, decltype(&SSL_free)>;

Status add_pem_roots(SSL_CTX* ctx, const std::string& pem) {
  if (pem.empty()) return {};
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);  // duplicates are fine
    X509_free(cert);
    ++added;
  }
  BIO_free(bio);
  ERR_clear_error();
  if (added == 0) return invalid("the extra trusted roots hold no PEM certificate");
  return {};
}

// Drives one SSL call to completion against the deadline.
template <class F>
Result<int> ssl_io(SSL* ssl, int fd, Clock::time_point deadline, F&& op, const std::string& what) {
  for (;;) {
    ERR_clear_error();
    int r = op();
    if (r > 0) return r;
    int err = SSL_get_error(ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
        return fail(ErrorKind::Timeout, "timed out talking to " + what);
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0;  // EOF without close_notify
    return fail(ErrorKind::Unavailable, "TLS error with " + what + ": " + ssl_error_text());
  }
}

class OpenSslStream : public ByteStream {
 public:
  OpenSslStream(SslCtx ctx, SslPtr ssl, int fd, Clock::time_point deadline, std::string what)
      : ctx_(std::move(ctx)),
        ssl_(std::move(ssl)),
        fd_(fd),
        deadline_(deadline),
        what_(std::move(what)) {}
  Status write(std::string_view data) override {
    while (!data.empty()) {
      auto n = EDGE_TRY(ssl_io(
          ssl_.get(), fd_, deadline_,
          [&] { return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())); },
          what_));
      if (n == 0) return fail(ErrorKind::Unavailable, what_ + " closed the connection");
      data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
  }
  Result<size_t> read(char* buf, size_t size) override {
    auto n = EDGE_TRY(ssl_io(
        ssl_.get(), fd_, deadline_,
        [&] { return SSL_read(ssl_.get(), buf, static_cast<int>(size)); }, what_));
    return static_cast<size_t>(n);
  }

 private:
  SslCtx ctx_;
  SslPtr ssl_;
  int fd_;
  Clock::time_point deadline_;
  std::string what_;
};

Result<std::unique_ptr<ByteStream>> connect_openssl(int fd, const Url& url,
                                                    Clock::time_point deadline,
                                                    const Options& options) {
  std::string what = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  what += ":" + std::to_string(url.port);
  SslCtx ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return internal("SSL_CTX_new: " + ssl_error_text());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (options.system_roots) SSL_CTX_set_default_verify_paths(ctx.get());
  EDGE_TRY_VOID(add_pem_roots(ctx.get(), options.extra_roots_pem));
  if (options.identity) {
    const auto& id = *options.identity;
    if (id.chain.empty() || !id.key) return invalid("client identity without certificate or key");
    if (SSL_CTX_use_certificate(ctx.get(), id.chain[0]) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), id.key) != 1)
      return invalid("client certificate does not match its key: " + ssl_error_text());
    for (size_t i = 1; i < id.chain.size(); ++i) {
      X509_up_ref(id.chain[i]);
      SSL_CTX_add1_chain_cert(ctx.get(), id.chain[i]);
      X509_free(id.chain[i]);
    }
  }
  SslPtr ssl(SSL_new(ctx.get()), SSL_free);
  if (!ssl) return internal("SSL_new: " + ssl_error_text());
  SSL_set_fd(ssl.get(), fd);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip_literal(url.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl.get(), url.host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0);
  }
  auto hs = ssl_io(
      ssl.get(), fd, deadline, [&] { return SSL_connect(ssl.get()); }, what);
  if (!hs || *hs == 0) {
    long verify = SSL_get_verify_result(ssl.get());
    if (verify != X509_V_OK)
      return fail(ErrorKind::Unavailable, "TLS handshake with " + what +
                                              " failed: server certificate not trusted: " +
                                              X509_verify_cert_error_string(verify));
    if (!hs) return fail(hs.error().context("TLS handshake with " + what + " failed"));
    return fail(ErrorKind::Unavailable,
                "TLS handshake with " + what + " failed: connection closed");
  }
  return std::unique_ptr<ByteStream>(
      std::make_unique<OpenSslStream>(std::move(ctx), std::move(ssl), fd, deadline, what));
}

}  // namespace

Result<Response> request(const std::string& method, const std::string& url,
                         const HeaderList& headers, const std::string& body,
                         const Options& options) {
  ExchangeOptions exchange{options.timeout, options.max_response, options.proxy};
  return request_over(
      [&](int fd, const Url& u, Clock::time_point deadline) {
        return connect_openssl(fd, u, deadline, options);
      },
      method, url, headers, body, exchange);
}

}  // namespace edge::cloud
