#include "keyd/crypto.h"

#include <mbedtls/asn1write.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/random.h"

namespace keyd::crypto {
using edge::internal;
using edge::invalid;

namespace {

int kernel_random(void*, unsigned char* out, size_t len) {
  return edge::fill_random(out, len) ? 0 : MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
}

std::string error_text(int code) {
  char buf[128];
  mbedtls_strerror(code, buf, sizeof buf);
  return buf;
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string mpi_bytes(const mbedtls_mpi& x) {
  std::string out(mbedtls_mpi_size(&x), '\0');
  mbedtls_mpi_write_binary(&x, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

// DER writers fill a buffer from its end (Mbed TLS's asn1write convention).
struct DerWriter {
  explicit DerWriter(size_t capacity) : buf(capacity), p(buf.data() + buf.size()) {}
  ~DerWriter() { mbedtls_platform_zeroize(buf.data(), buf.size()); }
  bool ok(int written) {
    if (written < 0) failed = true;
    else total += static_cast<size_t>(written);
    return !failed;
  }
  std::string_view result() const { return {reinterpret_cast<const char*>(p), total}; }
  std::vector<unsigned char> buf;
  unsigned char* p;
  size_t total = 0;
  bool failed = false;
};

}  // namespace

const std::string_view kP256CurveOid("\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07", 10);

Result<std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  if (kernel_random(nullptr, reinterpret_cast<unsigned char*>(out.data()), n) != 0)
    return internal(std::string("getrandom failed: ") + std::strerror(errno));
  return out;
}

std::string sha256(std::string_view data) {
  std::string out(32, '\0');
  mbedtls_sha256_ret(bytes(data), data.size(), reinterpret_cast<unsigned char*>(out.data()), 0);
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), bytes(key), key.size(), bytes(data),
                  data.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

namespace {
struct Gcm {
  Gcm() { mbedtls_gcm_init(&ctx); }
  ~Gcm() { mbedtls_gcm_free(&ctx); }
  mbedtls_gcm_context ctx;
};
}  // namespace

Result<std::string> aes256_gcm_encrypt(const Secret& key, std::string_view iv, std::string_view aad,
                                       std::string_view plaintext, std::string& tag) {
  Gcm gcm;
  std::string out(plaintext.size(), '\0');
  tag.assign(16, '\0');
  int rc = mbedtls_gcm_setkey(&gcm.ctx, MBEDTLS_CIPHER_ID_AES, key.data(), 256);
  if (rc == 0)
    rc = mbedtls_gcm_crypt_and_tag(&gcm.ctx, MBEDTLS_GCM_ENCRYPT, plaintext.size(), bytes(iv), iv.size(),
                                   bytes(aad), aad.size(), bytes(plaintext),
                                   reinterpret_cast<unsigned char*>(out.data()), 16,
                                   reinterpret_cast<unsigned char*>(tag.data()));
  if (rc != 0) return internal("AES-GCM encryption failed: " + error_text(rc));
  return out;
}

Result<std::string> aes256_gcm_decrypt(const Secret& key, std::string_view iv, std::string_view aad,
                                       std::string_view ciphertext, std::string_view tag) {
  Gcm gcm;
  std::string out(ciphertext.size(), '\0');
  int rc = mbedtls_gcm_setkey(&gcm.ctx, MBEDTLS_CIPHER_ID_AES, key.data(), 256);
  if (rc == 0)
    rc = mbedtls_gcm_auth_decrypt(&gcm.ctx, ciphertext.size(), bytes(iv), iv.size(), bytes(aad), aad.size(),
                                  bytes(tag), tag.size(), bytes(ciphertext),
                                  reinterpret_cast<unsigned char*>(out.data()));
  if (rc != 0) {
    mbedtls_platform_zeroize(out.data(), out.size());
    return invalid("could not decrypt: ciphertext, iv or aad do not match the key");
  }
  return out;
}

std::string strip_leading_zeros(std::string_view b) {
  size_t i = 0;
  while (i + 1 < b.size() && b[i] == '\0') ++i;
  return std::string(b.substr(i));
}

std::string PublicKey::compressed_ec_point() const {
  if (ec_point.size() < 3 || ec_point.size() % 2 == 0 || ec_point[0] != 0x04) return {};
  size_t n = (ec_point.size() - 1) / 2;
  std::string out(1, static_cast<char>(0x02 | (ec_point.back() & 1)));
  out += ec_point.substr(1, n);
  return out;
}

Result<std::string> ecdsa_raw_to_der(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 2 * 66) return internal("malformed raw ECDSA signature");
  size_t half = raw.size() / 2;
  mbedtls_mpi r, s;
  mbedtls_mpi_init(&r);
  mbedtls_mpi_init(&s);
  DerWriter w(2 * half + 16);
  bool ok = mbedtls_mpi_read_binary(&r, bytes(raw), half) == 0 &&
            mbedtls_mpi_read_binary(&s, bytes(raw) + half, half) == 0 &&
            w.ok(mbedtls_asn1_write_mpi(&w.p, w.buf.data(), &s)) &&
            w.ok(mbedtls_asn1_write_mpi(&w.p, w.buf.data(), &r)) &&
            w.ok(mbedtls_asn1_write_len(&w.p, w.buf.data(), w.total)) &&
            w.ok(mbedtls_asn1_write_tag(&w.p, w.buf.data(), MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  mbedtls_mpi_free(&r);
  mbedtls_mpi_free(&s);
  if (!ok) return internal("could not encode ECDSA signature");
  return std::string(w.result());
}

PrivateKey::PrivateKey() : pk_(std::make_unique<mbedtls_pk_context>()), mutex_(std::make_unique<std::mutex>()) {
  mbedtls_pk_init(pk_.get());
}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() {
  if (pk_) mbedtls_pk_free(pk_.get());  // zeroizes the key material
}

Result<PrivateKey> PrivateKey::generate(KeyType type) {
  PrivateKey key;
  bool ec = type == KeyType::EcP256;
  int rc = mbedtls_pk_setup(key.pk_.get(), mbedtls_pk_info_from_type(ec ? MBEDTLS_PK_ECKEY : MBEDTLS_PK_RSA));
  if (rc == 0 && ec)
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key.pk_), kernel_random, nullptr);
  else if (rc == 0)
    rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(*key.pk_), kernel_random, nullptr,
                             type == KeyType::Rsa4096 ? 4096 : 2048, 65537);
  if (rc != 0) return internal("key generation failed: " + error_text(rc));
  return key;
}

Result<PrivateKey> PrivateKey::parse(const Secret& text) {
  // PEM input must be NUL-terminated, with the NUL counted in the length.
  std::string copy;
  copy.reserve(text.size() + 1);
  copy.append(text.view());
  copy.push_back('\0');
  Secret input(std::move(copy));
  size_t len = text.view().find("-----BEGIN") != std::string_view::npos ? input.size() : text.size();
  PrivateKey key;
  int rc = mbedtls_pk_parse_key(key.pk_.get(), input.data(), len, nullptr, 0);
  if (rc != 0) return invalid("could not parse private key: " + error_text(rc));
  if (!key.is_ec() && !key.is_rsa()) return invalid("could not parse private key: not an EC or RSA key");
  return key;
}

bool PrivateKey::is_ec() const { return mbedtls_pk_can_do(pk_.get(), MBEDTLS_PK_ECKEY); }
bool PrivateKey::is_rsa() const { return mbedtls_pk_get_type(pk_.get()) == MBEDTLS_PK_RSA; }
size_t PrivateKey::rsa_modulus_size() const { return is_rsa() ? mbedtls_rsa_get_len(mbedtls_pk_rsa(*pk_)) : 0; }

Result<PublicKey> PrivateKey::public_key() const {
  PublicKey pub;
  if (is_ec()) {
    const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*pk_);
    const char* oid = nullptr;
    size_t oid_len = 0;
    unsigned char point[MBEDTLS_ECP_MAX_PT_LEN];
    size_t point_len = 0;
    if (mbedtls_oid_get_oid_by_ec_grp(ec->grp.id, &oid, &oid_len) != 0 || oid_len > 127 ||
        mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &point_len, point,
                                       sizeof point) != 0)
      return internal("could not export the EC public key");
    pub.type = PublicKey::Type::Ec;
    pub.ec_curve_oid = std::string("\x06", 1) + static_cast<char>(oid_len) + std::string(oid, oid_len);
    pub.ec_point.assign(reinterpret_cast<char*>(point), point_len);
    return pub;
  }
  mbedtls_mpi n, e;
  mbedtls_mpi_init(&n);
  mbedtls_mpi_init(&e);
  int rc = mbedtls_rsa_export(mbedtls_pk_rsa(*pk_), &n, nullptr, nullptr, nullptr, &e);
  pub.type = PublicKey::Type::Rsa;
  pub.rsa_modulus = mpi_bytes(n);
  pub.rsa_exponent = mpi_bytes(e);
  mbedtls_mpi_free(&n);
  mbedtls_mpi_free(&e);
  if (rc != 0) return internal("could not export the RSA public key: " + error_text(rc));
  return pub;
}

Result<Secret> PrivateKey::to_pkcs8_pem() const {
  // Mbed TLS writes SEC 1 / PKCS#1; PKCS#8 wraps that in a PrivateKeyInfo:
  // SEQUENCE { INTEGER 0, AlgorithmIdentifier, OCTET STRING inner }.
  DerWriter inner(16 * 1024);
  int n = mbedtls_pk_write_key_der(pk_.get(), inner.buf.data(), inner.buf.size());
  if (n <= 0) return internal("could not write private key: " + error_text(n));
  inner.p = inner.buf.data() + inner.buf.size() - n;
  inner.total = static_cast<size_t>(n);

  const char* alg_oid = nullptr;
  size_t alg_oid_len = 0;
  if (mbedtls_oid_get_oid_by_pk_alg(is_ec() ? MBEDTLS_PK_ECKEY : MBEDTLS_PK_RSA, &alg_oid, &alg_oid_len) != 0)
    return internal("could not write private key: no algorithm OID");
  DerWriter w(inner.total + 64);
  auto* start = w.buf.data();
  bool ok = w.ok(mbedtls_asn1_write_octet_string(&w.p, start, inner.p, inner.total));
  size_t params = 0;
  if (ok && is_ec()) {
    const char* curve = nullptr;
    size_t curve_len = 0;
    ok = mbedtls_oid_get_oid_by_ec_grp(mbedtls_pk_ec(*pk_)->grp.id, &curve, &curve_len) == 0;
    int written = ok ? mbedtls_asn1_write_oid(&w.p, start, curve, curve_len) : -1;
    ok = w.ok(written);
    params = ok ? static_cast<size_t>(written) : 0;
  } else if (ok) {
    int written = mbedtls_asn1_write_null(&w.p, start);
    ok = w.ok(written);
    params = ok ? static_cast<size_t>(written) : 0;
  }
  if (ok) {
    // write_algorithm_identifier counts the parameters already written in its return value.
    int written = mbedtls_asn1_write_algorithm_identifier(&w.p, start, alg_oid, alg_oid_len, params);
    ok = written >= 0;
    if (ok) w.total += static_cast<size_t>(written) - params;
  }
  ok = ok && w.ok(mbedtls_asn1_write_int(&w.p, start, 0)) && w.ok(mbedtls_asn1_write_len(&w.p, start, w.total)) &&
       w.ok(mbedtls_asn1_write_tag(&w.p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
  if (!ok) return internal("could not write private key");

  std::string pem(w.total * 4 / 3 + 128, '\0');
  size_t olen = 0;
  auto der = w.result();
  int rc = mbedtls_pem_write_buffer("-----BEGIN PRIVATE KEY-----\n", "-----END PRIVATE KEY-----\n", bytes(der),
                                    der.size(), reinterpret_cast<unsigned char*>(pem.data()), pem.size(), &olen);
  Secret out(std::move(pem));
  if (rc != 0) return internal("could not write private key PEM: " + error_text(rc));
  std::string_view text = out.view().substr(0, olen);
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  return Secret(std::string(text));
}

Result<std::string> PrivateKey::ecdsa_sign(std::string_view digest) {
  std::lock_guard lock(*mutex_);
  unsigned char sig[MBEDTLS_ECDSA_MAX_LEN];
  size_t len = 0;
  int rc = mbedtls_ecdsa_write_signature(mbedtls_pk_ec(*pk_), MBEDTLS_MD_SHA256, bytes(digest), digest.size(), sig,
                                         &len, kernel_random, nullptr);
  if (rc != 0) return internal("ECDSA sign failed: " + error_text(rc));
  return std::string(reinterpret_cast<char*>(sig), len);
}

Result<std::string> PrivateKey::rsa_private(std::string_view data, bool pkcs1_padding) {
  std::lock_guard lock(*mutex_);
  mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*pk_);
  std::string out(mbedtls_rsa_get_len(rsa), '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  int rc = pkcs1_padding ? mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, kernel_random, nullptr, MBEDTLS_RSA_PRIVATE,
                                                             MBEDTLS_MD_NONE, static_cast<unsigned>(data.size()),
                                                             bytes(data), o)
                         : mbedtls_rsa_private(rsa, kernel_random, nullptr, bytes(data), o);
  if (rc != 0) return invalid("RSA private-key operation failed: " + error_text(rc));
  return out;
}

}  // namespace keyd::crypto
