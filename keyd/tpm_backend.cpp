#include "keyd/tpm_backend.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "common/fs.h"
#include "tpmd/esys.h"

namespace keyd {
using edge::ErrorKind;
using edge::fail;
using edge::internal;
using edge::invalid;

namespace {

constexpr char kMagic[] = "AZTPMKEY";
constexpr size_t kMagicSize = 8;
constexpr size_t kMaxBlobFileSize = 8 * 1024;
constexpr size_t kHmacBlockSize = 64;

// One TPM; one conversation at a time from this process. TPM calls run on a helper thread
// with a deadline, so a TPM held by another client (swtpm serves one connection at a time)
// gives 503 instead of a hung request; the helper owns everything it uses.
class Connection {
 public:
  Connection(std::string tcti, edge::Secret owner_auth) : state_(std::make_shared<State>()) {
    state_->tcti = std::move(tcti);
    state_->auth.owner = std::move(owner_auth);
    if (const char* t = std::getenv("AZIOT_KEYD_TPM_TIMEOUT_MS")) {
      long ms = std::strtol(t, nullptr, 10);
      if (ms > 0 && ms <= 600000) timeout_ = std::chrono::milliseconds(ms);
    }
  }

  // Runs fn(esys, srk) with a fresh connection and the storage root key.
  template <class T>
  Result<T> with_srk(std::function<Result<T>(tpm::Esys&, ESYS_TR)> fn) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    std::thread([state = state_, promise, fn = std::move(fn)] {
      std::lock_guard lock(state->mutex);
      promise->set_value([&]() -> Result<T> {
        auto esys = EDGE_TRY(tpm::Esys::open(state->tcti));
        EDGE_TRY_VOID(esys->set_hierarchy_auth(state->auth));
        ESYS_TR srk = EDGE_TRY(tpm::ensure_srk(*esys));
        return fn(*esys, srk);
      }());
    }).detach();
    if (future.wait_for(timeout_) == std::future_status::ready) return future.get();
    return fail(ErrorKind::Unavailable, "the TPM did not answer within " +
                                            std::to_string(timeout_.count()) +
                                            " ms: it is busy (held by another client?)");
  }

 private:
  struct State {
    std::string tcti;
    tpm::HierarchyAuth auth;
    std::mutex mutex;
  };
  std::shared_ptr<State> state_;
  std::chrono::milliseconds timeout_{30000};
};

struct Blob {
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
};

Result<std::string> encode_blob(const Blob& b) {
  return std::string(kMagic, kMagicSize) + EDGE_TRY(tpm::marshal_public(b.pub)) +
         EDGE_TRY(tpm::marshal_private(b.priv));
}

Result<Blob> read_blob(const std::string& path) {
  if (!edge::fs::exists(path)) return fail(ErrorKind::NotFound, "no TPM key blob " + path);
  auto bytes = EDGE_TRY(edge::fs::read_file(path, kMaxBlobFileSize));
  auto corrupted = [&](const std::string& why) {
    return invalid("the TPM key blob " + path + " is corrupted: " + why);
  };
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0)
    return corrupted("bad magic");
  Blob b;
  size_t off = kMagicSize;
  auto pub = tpm::unmarshal_public(bytes, &off);
  if (!pub) return corrupted(pub.error().message);
  auto priv = tpm::unmarshal_private(bytes, &off);
  if (!priv) return corrupted(priv.error().message);
  if (off != bytes.size()) return corrupted("trailing bytes");
  b.pub = *pub;
  b.priv = *priv;
  return b;
}

// Loads the blob under the SRK; the TPM checks its integrity (a tampered blob or one made by
// another TPM is refused here).
Result<tpm::Transient> load(tpm::Esys& esys, ESYS_TR srk, const Blob& b, const std::string& path) {
  ESYS_TR h = ESYS_TR_NONE;
  TSS2_RC rc =
      Esys_Load(esys.ctx(), srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &b.priv, &b.pub, &h);
  if (rc != TSS2_RC_SUCCESS) {
    auto e = tpm::fail("loading " + path + " into the TPM", rc).error();
    if (e.kind == ErrorKind::Internal && (rc & 0xFFFF0000u) == 0)
      e = {ErrorKind::InvalidParameter, "the TPM refused the key blob " + path +
                                            " (corrupted, or made by another TPM): " + e.message};
    return fail(e);
  }
  return tpm::Transient(esys.ctx(), h);
}

TPMA_OBJECT key_attributes() {
  return TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH |
         TPMA_OBJECT_NODA;
}

TPM2B_PUBLIC template_for(KeyPairAlgorithm a) {
  TPM2B_PUBLIC t{};
  auto& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes =
      key_attributes() | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_SIGN_ENCRYPT;
  if (a == KeyPairAlgorithm::EcP256) {
    p.type = TPM2_ALG_ECC;
    p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  } else {
    p.type = TPM2_ALG_RSA;
    // Raw private-key operation (RSA_Decrypt with no scheme) serves upstream's "encrypt".
    p.objectAttributes |= TPMA_OBJECT_DECRYPT;
    p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.rsaDetail.keyBits = a == KeyPairAlgorithm::Rsa4096 ? 4096 : 2048;
    p.parameters.rsaDetail.exponent = 0;
  }
  return t;
}

TPM2B_PUBLIC hmac_template(bool generated) {
  TPM2B_PUBLIC t{};
  auto& p = t.publicArea;
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = key_attributes() | TPMA_OBJECT_SIGN_ENCRYPT;
  if (generated) p.objectAttributes |= TPMA_OBJECT_SENSITIVEDATAORIGIN;
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
  p.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
  return t;
}

Result<Blob> create(Connection& tpm, const TPM2B_PUBLIC& tmpl, const edge::Secret* data) {
  std::optional<edge::Secret> material;
  if (data) material = *data;
  return tpm.with_srk<Blob>([tmpl, material](tpm::Esys& esys, ESYS_TR srk) -> Result<Blob> {
    TPM2B_SENSITIVE_CREATE sensitive{};
    if (material) {
      sensitive.sensitive.data.size = static_cast<UINT16>(material->size());
      std::memcpy(sensitive.sensitive.data.buffer, material->data(), material->size());
    }
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    TSS2_RC rc =
        Esys_Create(esys.ctx(), srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                    &tmpl, &outside, &pcrs, &priv, &pub, nullptr, nullptr, nullptr);
    ::explicit_bzero(&sensitive, sizeof sensitive);
    if (rc != TSS2_RC_SUCCESS) return tpm::fail("creating a key in the TPM (TPM2_Create)", rc);
    Blob b;
    b.pub = *pub;
    b.priv = *priv;
    Esys_Free(pub);
    Esys_Free(priv);
    return b;
  });
}

// The public half of a TPM key as plain bytes (x and y are left-padded to the curve size).
Result<crypto::PublicKey> public_key_of(const TPMT_PUBLIC& pub) {
  crypto::PublicKey key;
  if (pub.type == TPM2_ALG_RSA) {
    key.type = crypto::PublicKey::Type::Rsa;
    key.rsa_modulus = crypto::strip_leading_zeros(
        std::string_view(reinterpret_cast<const char*>(pub.unique.rsa.buffer), pub.unique.rsa.size));
    uint32_t e = pub.parameters.rsaDetail.exponent ? pub.parameters.rsaDetail.exponent : 65537;
    std::string exponent;
    for (int shift = 24; shift >= 0; shift -= 8) exponent.push_back(static_cast<char>((e >> shift) & 0xff));
    key.rsa_exponent = crypto::strip_leading_zeros(exponent);
    return key;
  }
  const auto& x = pub.unique.ecc.x;
  const auto& y = pub.unique.ecc.y;
  if (pub.type != TPM2_ALG_ECC || pub.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 || x.size > 32 ||
      y.size > 32)
    return invalid("unsupported TPM public key type");
  key.type = crypto::PublicKey::Type::Ec;
  key.ec_curve_oid = crypto::kP256CurveOid;
  key.ec_point = std::string(1, '\x04') + std::string(32 - x.size, '\0') +
                 std::string(reinterpret_cast<const char*>(x.buffer), x.size) + std::string(32 - y.size, '\0') +
                 std::string(reinterpret_cast<const char*>(y.buffer), y.size);
  return key;
}

class TpmKeyPair final : public KeyPair {
 public:
  TpmKeyPair(std::shared_ptr<Connection> tpm, Blob blob, std::string path)
      : tpm_(std::move(tpm)), blob_(blob), path_(std::move(path)) {}

  Result<crypto::PublicKey> public_key() override { return public_key_of(blob_.pub.publicArea); }

  Result<std::string> sign_digest(std::string_view digest) override {
    if (blob_.pub.publicArea.type != TPM2_ALG_ECC)
      return invalid(
          "parameter \"algorithm\" has an invalid value\ncaused by: ECDSA needs an EC key pair");
    if (digest.empty()) return invalid("parameter \"digest\" must not be empty");
    TPM2B_DIGEST d{};
    if (digest.size() > sizeof d.buffer) return invalid("parameter \"digest\" is too long");
    d.size = static_cast<UINT16>(digest.size());
    std::memcpy(d.buffer, digest.data(), digest.size());
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDSA;
    scheme.details.ecdsa.hashAlg = digest.size() == 48   ? TPM2_ALG_SHA384
                                   : digest.size() == 64 ? TPM2_ALG_SHA512
                                   : digest.size() == 20 ? TPM2_ALG_SHA1
                                                         : TPM2_ALG_SHA256;
    TPMT_TK_HASHCHECK validation{};
    validation.tag = TPM2_ST_HASHCHECK;
    validation.hierarchy = TPM2_RH_NULL;
    return tpm_->with_srk<std::string>(
        [blob = blob_, path = path_, d, scheme, validation](
            tpm::Esys& esys, ESYS_TR srk) mutable -> Result<std::string> {
          auto key = EDGE_TRY(load(esys, srk, blob, path));
          TPMT_SIGNATURE* sig = nullptr;
          TSS2_RC rc = Esys_Sign(esys.ctx(), key.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &d, &scheme, &validation, &sig);
          if (rc != TSS2_RC_SUCCESS) return tpm::fail("TPM2_Sign", rc);
          auto part = [](const TPM2B_ECC_PARAMETER& v) {
            std::string s(reinterpret_cast<const char*>(v.buffer), v.size);
            return s.size() < 32 ? std::string(32 - s.size(), '\0') + s : s;
          };
          std::string raw =
              part(sig->signature.ecdsa.signatureR) + part(sig->signature.ecdsa.signatureS);
          Esys_Free(sig);
          return crypto::ecdsa_raw_to_der(raw);
        });
  }

  Result<std::string> private_encrypt(std::string_view data, RsaPadding padding) override {
    if (blob_.pub.publicArea.type != TPM2_ALG_RSA)
      return invalid(
          "parameter \"algorithm\" has an invalid value\ncaused by: RSA encryption needs an RSA "
          "key pair");
    size_t k = blob_.pub.publicArea.unique.rsa.size;
    std::string block;
    if (padding == RsaPadding::None) {
      if (data.size() != k)
        return invalid(
            "parameter \"plaintext\" must be exactly as long as the modulus for RSA-NO-PADDING");
      block = std::string(data);
    } else {
      if (data.size() + 11 > k)
        return invalid("parameter \"plaintext\" is too long for the RSA key");
      // PKCS#1 v1.5 type 1: 00 01 FF..FF 00 data; the TPM does the raw private-key operation.
      block = std::string("\x00\x01", 2) + std::string(k - 3 - data.size(), '\xFF') +
              std::string(1, '\0') + std::string(data);
    }
    TPM2B_PUBLIC_KEY_RSA in{};
    in.size = static_cast<UINT16>(block.size());
    std::memcpy(in.buffer, block.data(), block.size());
    TPMT_RSA_DECRYPT scheme{};
    scheme.scheme = TPM2_ALG_NULL;
    TPM2B_DATA label{};
    return tpm_->with_srk<std::string>(
        [blob = blob_, path = path_, in, scheme, label, padding, k](
            tpm::Esys& esys, ESYS_TR srk) mutable -> Result<std::string> {
          auto key = EDGE_TRY(load(esys, srk, blob, path));
          TPM2B_PUBLIC_KEY_RSA* out = nullptr;
          TSS2_RC rc = Esys_RSA_Decrypt(esys.ctx(), key.get(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &in, &scheme, &label, &out);
          if (rc != TSS2_RC_SUCCESS) {
            if ((rc & 0xFFFF0000u) == 0 && padding == RsaPadding::None)
              return invalid("RSA private-key operation refused by the TPM: " + tpm::rc_text(rc));
            return tpm::fail("TPM2_RSA_Decrypt", rc);
          }
          std::string s(reinterpret_cast<const char*>(out->buffer), out->size);
          Esys_Free(out);
          if (s.size() < k) s = std::string(k - s.size(), '\0') + s;
          return s;
        });
  }

 private:
  std::shared_ptr<Connection> tpm_;
  Blob blob_;
  std::string path_;
};

class TpmHmacKey final : public SymmetricKey {
 public:
  TpmHmacKey(std::shared_ptr<Connection> tpm, Blob blob, std::string path)
      : tpm_(std::move(tpm)), blob_(blob), path_(std::move(path)) {}

  Result<std::string> hmac_sha256(std::string_view data) override {
    return tpm_->with_srk<std::string>(
        [blob = blob_, path = path_, data = Secret(std::string(data))](
            tpm::Esys& esys, ESYS_TR srk) -> Result<std::string> {
          auto key = EDGE_TRY(load(esys, srk, blob, path));
          return tpm::hmac_sha256(esys, key.get(), data.view());
        });
  }
  Result<std::string> encrypt(std::string_view, std::string_view, std::string_view) override {
    return invalid(
        "parameter \"algorithm\" has an invalid value\ncaused by: AEAD is not supported for keys "
        "in the TPM");
  }
  Result<std::string> decrypt(std::string_view, std::string_view, std::string_view) override {
    return invalid(
        "parameter \"algorithm\" has an invalid value\ncaused by: AEAD is not supported for keys "
        "in the TPM");
  }

 private:
  std::shared_ptr<Connection> tpm_;
  Blob blob_;
  std::string path_;
};

class TpmBackend final : public Backend {
 public:
  explicit TpmBackend(std::shared_ptr<Connection> tpm) : tpm_(std::move(tpm)) {}

  Result<std::shared_ptr<KeyPair>> open_key_pair(const std::string& path) override {
    auto blob = EDGE_TRY(read_blob(path));
    if (blob.pub.publicArea.type != TPM2_ALG_ECC && blob.pub.publicArea.type != TPM2_ALG_RSA)
      return invalid("parameter \"id\" has an invalid value\ncaused by: " + path +
                     " is not a key pair");
    return std::shared_ptr<KeyPair>(new TpmKeyPair(tpm_, blob, path));
  }

  Result<std::shared_ptr<KeyPair>> create_key_pair(
      const std::string& path, const std::vector<KeyPairAlgorithm>& preferred) override {
    // Like PKCS#11: try each preference until the TPM makes one (swtpm has no RSA-4096).
    edge::Error last{ErrorKind::InvalidParameter, "no key pair algorithm given"};
    for (auto a : preferred) {
      auto blob = create(*tpm_, template_for(a), nullptr);
      if (!blob) {
        last = blob.error();
        if (last.kind == ErrorKind::Internal) continue;  // this algorithm is not supported
        return fail(last);
      }
      EDGE_TRY_VOID(edge::fs::write_atomic(path, EDGE_TRY(encode_blob(*blob)), 0600));
      return std::shared_ptr<KeyPair>(new TpmKeyPair(tpm_, *blob, path));
    }
    return fail(last);
  }

  Status delete_key_pair(const std::string& path) override { return edge::fs::remove_file(path); }

  Status move_key_pair(const std::string& from, const std::string& to) override {
    if (!edge::fs::exists(from)) return fail(ErrorKind::NotFound, "key pair not found");
    if (std::rename(from.c_str(), to.c_str()) != 0)
      return internal("could not move " + from + " to " + to + ": " + std::strerror(errno));
    return {};
  }

  Result<std::shared_ptr<SymmetricKey>> open_key(const std::string& path) override {
    auto blob = EDGE_TRY(read_blob(path));
    if (blob.pub.publicArea.type != TPM2_ALG_KEYEDHASH)
      return invalid("parameter \"id\" has an invalid value\ncaused by: " + path +
                     " is not a symmetric key");
    return std::shared_ptr<SymmetricKey>(new TpmHmacKey(tpm_, blob, path));
  }

  Result<std::shared_ptr<SymmetricKey>> create_key(const std::string& path, Usage usage) override {
    if (usage.encrypt) return fail(ErrorKind::Unsupported, "the TPM cannot hold AES-GCM keys");
    auto blob = EDGE_TRY(create(*tpm_, hmac_template(true), nullptr));
    EDGE_TRY_VOID(edge::fs::write_atomic(path, EDGE_TRY(encode_blob(blob)), 0600));
    return std::shared_ptr<SymmetricKey>(new TpmHmacKey(tpm_, blob, path));
  }

  Result<std::shared_ptr<SymmetricKey>> import_key(const std::string& path, const Secret& bytes,
                                                   Usage usage) override {
    if (usage.encrypt) return fail(ErrorKind::Unsupported, "the TPM cannot hold AES-GCM keys");
    // HMAC replaces keys longer than the block size by their hash: same MACs, fits the TPM.
    Secret material =
        bytes.size() > kHmacBlockSize ? Secret(crypto::sha256(bytes.view())) : bytes;
    auto blob = EDGE_TRY(create(*tpm_, hmac_template(false), &material));
    EDGE_TRY_VOID(edge::fs::write_atomic(path, EDGE_TRY(encode_blob(blob)), 0600));
    return std::shared_ptr<SymmetricKey>(new TpmHmacKey(tpm_, blob, path));
  }

  Status delete_key(const std::string& path) override { return edge::fs::remove_file(path); }

 private:
  std::shared_ptr<Connection> tpm_;
};

Result<std::unique_ptr<Backend>> make_backend(const std::string& tcti, const Secret& owner_auth) {
  // tpm2-tss prints its own warnings for every TPM error; keyd reports errors itself. (Set
  // before the first ESYS call, while keyd is still single-threaded; an explicit value wins.)
  ::setenv("TSS2_LOG", "all+NONE", 0);
  auto conn = std::make_shared<Connection>(tcti, owner_auth);
  // Reach the TPM once at startup (and create the SRK if needed) so a wrong TCTI or owner
  // password is reported when keyd starts, not on the first request.
  EDGE_TRY(conn->with_srk<bool>([](tpm::Esys&, ESYS_TR) -> Result<bool> { return true; }));
  return std::unique_ptr<Backend>(new TpmBackend(std::move(conn)));
}

}  // namespace
}  // namespace keyd

// The plugin's one entry point (keyd/tpm_loader.cpp).
extern "C" __attribute__((visibility("default"))) keyd::TpmBackendFactory keyd_tpm_backend_factory() {
  return &keyd::make_backend;
}
