#include "tpmd/tpm.h"

#include <tss2/tss2_mu.h>

#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>

namespace tpmd {
using edge::ErrorKind;
using edge::Result;
using edge::Status;

namespace {

struct ImportBlob {
  TPM2B_ID_OBJECT credential{};
  TPM2B_ENCRYPTED_SECRET secret{};
  TPM2B_PRIVATE duplicate{};
  TPM2B_ENCRYPTED_SECRET seed{};
  TPM2B_PUBLIC object{};
};

Result<ImportBlob> parse_blob(std::string_view blob) {
  ImportBlob b;
  auto* p = reinterpret_cast<const uint8_t*>(blob.data());
  size_t off = 0;
  auto part = [&](TSS2_RC rc, const char* what) -> Status {
    if (rc != TSS2_RC_SUCCESS)
      return edge::invalid(
          std::string("parameter \"key\" has an invalid value\ncaused by: malformed ") + what +
          " at byte " + std::to_string(off));
    return {};
  };
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(p, blob.size(), &off, &b.credential),
                     "credential blob"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(p, blob.size(), &off, &b.secret),
                     "encrypted secret"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, blob.size(), &off, &b.duplicate),
                     "duplication blob"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(p, blob.size(), &off, &b.seed),
                     "encrypted seed"));
  EDGE_TRY_VOID(
      part(Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, blob.size(), &off, &b.object), "key public area"));
  // DPS appends a TPM2B_DATA ("encUriData") that Microsoft's clients read and upstream ignores;
  // anything else after the public area is refused.
  size_t after_public = off;
  TPM2B_DATA uri_data{};
  if (off != blob.size() &&
      Tss2_MU_TPM2B_DATA_Unmarshal(p, blob.size(), &off, &uri_data) != TSS2_RC_SUCCESS)
    off = after_public;
  if (off != blob.size())
    return edge::invalid("parameter \"key\" has an invalid value\ncaused by: " +
                         std::to_string(blob.size() - after_public) +
                         " trailing bytes after the key public area (not one TPM2B_DATA)");
  return b;
}

// A TPM refusal of the blob's contents (integrity, size, attributes) is bad input.
std::unexpected<edge::Error> blob_rejected(const std::string& what, TSS2_RC rc) {
  auto e = tpm::fail(what, rc).error();
  if (e.kind == ErrorKind::Internal && (rc & 0xFFFF0000u) == 0) {
    e.kind = ErrorKind::InvalidParameter;
    e.message =
        "parameter \"key\" has an invalid value\ncaused by: the TPM rejected it: " + e.message;
  }
  return edge::fail(e);
}

}  // namespace

Tpm::Tpm(const Config& config) : shared_(std::make_shared<Shared>()), timeout_(30000) {
  shared_->tcti = config.tcti;
  shared_->auth_key_handle = tpm::kAuthKeyBase + config.auth_key_index;
  shared_->auth.endorsement = config.auth.endorsement;
  shared_->auth.owner = config.auth.owner;
  if (const char* t = std::getenv("AZIOT_TPMD_TPM_TIMEOUT_MS")) {
    long ms = std::strtol(t, nullptr, 10);
    if (ms > 0 && ms <= 600000) timeout_ = std::chrono::milliseconds(ms);
  }
}

namespace {
Result<std::unique_ptr<tpm::Esys>> open_tpm(const std::string& tcti,
                                            const tpm::HierarchyAuth& auth) {
  auto esys = EDGE_TRY(tpm::Esys::open(tcti));
  EDGE_TRY_VOID(esys->set_hierarchy_auth(auth));
  return esys;
}
}  // namespace

template <class T>
Result<T> Tpm::run(std::function<Result<T>(Shared&)> op) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  // The helper owns everything it touches (shared state, op and its captures by value).
  std::thread([shared = shared_, promise, op = std::move(op)] {
    std::lock_guard lock(shared->mutex);
    promise->set_value(op(*shared));
  }).detach();
  if (future.wait_for(timeout_) == std::future_status::ready) return future.get();
  return edge::fail(ErrorKind::Unavailable, "the TPM did not answer within " +
                                                std::to_string(timeout_.count()) +
                                                " ms: it is busy (held by another client?)");
}

Status Tpm::provision() {
  auto r = run<bool>([](Shared& s) -> Result<bool> {
    auto esys = EDGE_TRY(open_tpm(s.tcti, s.auth));
    EDGE_TRY(tpm::ensure_ek(*esys));
    EDGE_TRY(tpm::ensure_srk(*esys));
    return true;
  });
  if (!r) return edge::fail(r.error());
  return {};
}

Result<TpmKeys> Tpm::get_keys() {
  return run<TpmKeys>([](Shared& s) -> Result<TpmKeys> {
    auto esys = EDGE_TRY(open_tpm(s.tcti, s.auth));
    TpmKeys keys;
    keys.endorsement_key = EDGE_TRY(tpm::read_public(*esys, EDGE_TRY(tpm::ensure_ek(*esys))));
    keys.storage_root_key = EDGE_TRY(tpm::read_public(*esys, EDGE_TRY(tpm::ensure_srk(*esys))));
    return keys;
  });
}

Status Tpm::import_auth_key(std::string_view blob_bytes) {
  if (blob_bytes.empty())
    return edge::invalid("parameter \"key\" has an invalid value\ncaused by: empty key");
  if (blob_bytes.size() > kMaxImportBlobSize)
    return edge::invalid("parameter \"key\" has an invalid value\ncaused by: longer than " +
                         std::to_string(kMaxImportBlobSize) + " bytes");
  auto parsed = EDGE_TRY(parse_blob(blob_bytes));
  auto r = run<bool>([parsed](Shared& s) mutable -> Result<bool> {
    ImportBlob& blob = parsed;
    auto esys = EDGE_TRY(open_tpm(s.tcti, s.auth));
    ESYS_CONTEXT* ctx = esys->ctx();
    ESYS_TR ek = EDGE_TRY(tpm::ensure_ek(*esys));
    ESYS_TR srk = EDGE_TRY(tpm::ensure_srk(*esys));

    // The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT).
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
    ESYS_TR session = ESYS_TR_NONE;
    TSS2_RC rc = Esys_StartAuthSession(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                       ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256,
                                       &session);
    if (rc != TSS2_RC_SUCCESS) return tpm::fail("TPM2_StartAuthSession", rc);
    tpm::Transient session_guard(ctx, session);
    rc = Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                           ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, nullptr, nullptr);
    if (rc != TSS2_RC_SUCCESS) return tpm::fail("TPM2_PolicySecret(endorsement)", rc);

    TPM2B_DIGEST* inner = nullptr;
    rc = Esys_ActivateCredential(ctx, srk, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE,
                                 &blob.credential, &blob.secret, &inner);
    if (rc != TSS2_RC_SUCCESS) return blob_rejected("TPM2_ActivateCredential", rc);
    TPM2B_DATA encryption_key{};
    encryption_key.size = inner->size;
    std::memcpy(encryption_key.buffer, inner->buffer, inner->size);
    ::explicit_bzero(inner->buffer, inner->size);
    Esys_Free(inner);

    TPMT_SYM_DEF_OBJECT inner_sym{};
    inner_sym.algorithm = TPM2_ALG_AES;
    inner_sym.keyBits.aes = 128;
    inner_sym.mode.aes = TPM2_ALG_CFB;
    TPM2B_PRIVATE* imported = nullptr;
    rc = Esys_Import(ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &encryption_key,
                     &blob.object, &blob.duplicate, &blob.seed, &inner_sym, &imported);
    ::explicit_bzero(encryption_key.buffer, sizeof encryption_key.buffer);
    if (rc != TSS2_RC_SUCCESS) return blob_rejected("TPM2_Import", rc);

    ESYS_TR loaded = ESYS_TR_NONE;
    rc = Esys_Load(ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, imported, &blob.object,
                   &loaded);
    Esys_Free(imported);
    if (rc != TSS2_RC_SUCCESS) return blob_rejected("TPM2_Load of the imported key", rc);
    tpm::Transient key_guard(ctx, loaded);
    EDGE_TRY_VOID(tpm::persist(*esys, loaded, s.auth_key_handle));
    return true;
  });
  if (!r) return edge::fail(r.error());
  return {};
}

Result<std::string> Tpm::sign_with_auth_key(std::string_view data) {
  if (data.size() > kMaxSignDataSize)
    return edge::invalid("parameter \"data\" has an invalid value\ncaused by: longer than " +
                         std::to_string(kMaxSignDataSize) + " bytes");
  return run<std::string>([data = std::string(data)](Shared& s) -> Result<std::string> {
    auto esys = EDGE_TRY(open_tpm(s.tcti, s.auth));
    auto key = tpm::persistent(*esys, s.auth_key_handle);
    if (!key) {
      if (key.error().kind == ErrorKind::NotFound)
        return edge::invalid("no auth key has been imported (" + key.error().message + ")");
      return edge::fail(key.error());
    }
    return tpm::hmac_sha256(*esys, *key, data);
  });
}

}  // namespace tpmd
