#include "tpmd/tpm.h"

#include <tss2/tss2_mu.h>

#include <cstring>

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
      return edge::invalid(std::string("parameter \"key\" has an invalid value\ncaused by: malformed ") + what +
                           " at byte " + std::to_string(off));
    return {};
  };
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(p, blob.size(), &off, &b.credential), "credential blob"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(p, blob.size(), &off, &b.secret), "encrypted secret"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_PRIVATE_Unmarshal(p, blob.size(), &off, &b.duplicate), "duplication blob"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(p, blob.size(), &off, &b.seed), "encrypted seed"));
  EDGE_TRY_VOID(part(Tss2_MU_TPM2B_PUBLIC_Unmarshal(p, blob.size(), &off, &b.object), "key public area"));
  if (off != blob.size())
    return edge::invalid("parameter \"key\" has an invalid value\ncaused by: " +
                         std::to_string(blob.size() - off) + " trailing bytes after the key public area");
  return b;
}

// A TPM refusal of the blob's contents (integrity, size, attributes) is bad input.
std::unexpected<edge::Error> blob_rejected(const std::string& what, TSS2_RC rc) {
  auto e = tpm::fail(what, rc).error();
  if (e.kind == ErrorKind::Internal && (rc & 0xFFFF0000u) == 0) {
    e.kind = ErrorKind::InvalidParameter;
    e.message = "parameter \"key\" has an invalid value\ncaused by: the TPM rejected it: " + e.message;
  }
  return edge::fail(e);
}

}  // namespace

Tpm::Tpm(const Config& config)
    : tcti_(config.tcti), auth_key_handle_(tpm::kAuthKeyBase + config.auth_key_index), auth_(config.auth) {}

Result<std::unique_ptr<tpm::Esys>> Tpm::open() {
  auto esys = EDGE_TRY(tpm::Esys::open(tcti_));
  EDGE_TRY_VOID(esys->set_hierarchy_auth(auth_));
  return esys;
}

Status Tpm::provision() {
  std::lock_guard lock(mutex_);
  auto esys = EDGE_TRY(open());
  EDGE_TRY(tpm::ensure_ek(*esys));
  EDGE_TRY(tpm::ensure_srk(*esys));
  return {};
}

Result<TpmKeys> Tpm::get_keys() {
  std::lock_guard lock(mutex_);
  auto esys = EDGE_TRY(open());
  TpmKeys keys;
  keys.endorsement_key = EDGE_TRY(tpm::read_public(*esys, EDGE_TRY(tpm::ensure_ek(*esys))));
  keys.storage_root_key = EDGE_TRY(tpm::read_public(*esys, EDGE_TRY(tpm::ensure_srk(*esys))));
  return keys;
}

Status Tpm::import_auth_key(std::string_view blob_bytes) {
  if (blob_bytes.empty()) return edge::invalid("parameter \"key\" has an invalid value\ncaused by: empty key");
  if (blob_bytes.size() > kMaxImportBlobSize)
    return edge::invalid("parameter \"key\" has an invalid value\ncaused by: longer than " +
                         std::to_string(kMaxImportBlobSize) + " bytes");
  auto blob = EDGE_TRY(parse_blob(blob_bytes));

  std::lock_guard lock(mutex_);
  auto esys = EDGE_TRY(open());
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
                                     ESYS_TR_NONE, nullptr, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session);
  if (rc != TSS2_RC_SUCCESS) return tpm::fail("TPM2_StartAuthSession", rc);
  tpm::Transient session_guard(ctx, session);
  rc = Esys_PolicySecret(ctx, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                         nullptr, nullptr, nullptr, 0, nullptr, nullptr);
  if (rc != TSS2_RC_SUCCESS) return tpm::fail("TPM2_PolicySecret(endorsement)", rc);

  TPM2B_DIGEST* inner = nullptr;
  rc = Esys_ActivateCredential(ctx, srk, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &blob.credential,
                               &blob.secret, &inner);
  if (rc != TSS2_RC_SUCCESS) return blob_rejected("TPM2_ActivateCredential", rc);
  TPM2B_DATA encryption_key{};
  encryption_key.size = inner->size;
  std::memcpy(encryption_key.buffer, inner->buffer, inner->size);
  OPENSSL_cleanse(inner->buffer, inner->size);
  Esys_Free(inner);

  TPMT_SYM_DEF_OBJECT inner_sym{};
  inner_sym.algorithm = TPM2_ALG_AES;
  inner_sym.keyBits.aes = 128;
  inner_sym.mode.aes = TPM2_ALG_CFB;
  TPM2B_PRIVATE* imported = nullptr;
  rc = Esys_Import(ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &encryption_key, &blob.object,
                   &blob.duplicate, &blob.seed, &inner_sym, &imported);
  OPENSSL_cleanse(encryption_key.buffer, sizeof encryption_key.buffer);
  if (rc != TSS2_RC_SUCCESS) return blob_rejected("TPM2_Import", rc);

  ESYS_TR loaded = ESYS_TR_NONE;
  rc = Esys_Load(ctx, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, imported, &blob.object, &loaded);
  Esys_Free(imported);
  if (rc != TSS2_RC_SUCCESS) return blob_rejected("TPM2_Load of the imported key", rc);
  tpm::Transient key_guard(ctx, loaded);
  return tpm::persist(*esys, loaded, auth_key_handle_);
}

Result<std::string> Tpm::sign_with_auth_key(std::string_view data) {
  if (data.size() > kMaxSignDataSize)
    return edge::invalid("parameter \"data\" has an invalid value\ncaused by: longer than " +
                         std::to_string(kMaxSignDataSize) + " bytes");
  std::lock_guard lock(mutex_);
  auto esys = EDGE_TRY(open());
  auto key = tpm::persistent(*esys, auth_key_handle_);
  if (!key) {
    if (key.error().kind == ErrorKind::NotFound)
      return edge::invalid("no auth key has been imported (" + key.error().message + ")");
    return edge::fail(key.error());
  }
  return tpm::hmac_sha256(*esys, *key, data);
}

}  // namespace tpmd
