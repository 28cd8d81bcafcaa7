#include "tpmd/esys.h"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <cstring>

namespace tpm {
using edge::ErrorKind;

namespace {
constexpr TSS2_RC kLayerMask = 0xFFFF0000u;

bool is_tcti_error(TSS2_RC rc) {
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  return layer == TSS2_TCTI_RC_LAYER ||
         (layer == TSS2_SYS_RC_LAYER && (rc & 0xFFFF) == TSS2_BASE_RC_IO_ERROR) ||
         (layer == TSS2_ESAPI_RC_LAYER && (rc & 0xFFFF) == TSS2_BASE_RC_IO_ERROR) ||
         (layer == TSS2_ESAPI_RC_LAYER && (rc & 0xFFFF) == TSS2_BASE_RC_TRY_AGAIN);
}

// A TPM-layer format-one response code, without its handle/session/parameter number.
int fmt1_error(TSS2_RC rc) {
  if ((rc & kLayerMask) != 0 || !(rc & TPM2_RC_FMT1)) return -1;
  return static_cast<int>(rc & 0xBF);
}

bool tpm_busy(TSS2_RC rc) {
  if ((rc & kLayerMask) != 0 || (rc & TPM2_RC_FMT1)) return false;
  TSS2_RC base = rc & 0xFFF;
  return base == TPM2_RC_RETRY || base == TPM2_RC_YIELDED || base == TPM2_RC_TESTING ||
         base == TPM2_RC_LOCKOUT;
}
}  // namespace

std::string rc_text(TSS2_RC rc) {
  const char* text = Tss2_RC_Decode(rc);
  char code[16];
  std::snprintf(code, sizeof code, "0x%x", rc);
  return std::string(text ? text : "unknown error") + " (" + code + ")";
}

std::unexpected<edge::Error> fail(const std::string& what, TSS2_RC rc) {
  ErrorKind kind = ErrorKind::Internal;
  std::string hint;
  int f1 = fmt1_error(rc);
  if (is_tcti_error(rc)) {
    kind = ErrorKind::Unavailable;
    hint = ": the TPM is not reachable";
  } else if (tpm_busy(rc)) {
    kind = ErrorKind::Unavailable;
    hint = ": the TPM is busy";
  } else if (f1 == TPM2_RC_BAD_AUTH || f1 == TPM2_RC_AUTH_FAIL) {
    kind = ErrorKind::Unauthorized;
    hint = ": wrong authorization value (check the hierarchy authorization in the config)";
  }
  return edge::fail(kind, what + " failed: " + rc_text(rc) + hint);
}

Result<std::unique_ptr<Esys>> Esys::open(const std::string& tcti) {
  std::unique_ptr<Esys> e(new Esys());
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti.empty() ? nullptr : tcti.c_str(), &e->tcti_);
  if (rc != TSS2_RC_SUCCESS) {
    e->tcti_ = nullptr;
    return edge::fail(ErrorKind::Unavailable,
                      "the TPM is not reachable (TCTI \"" + tcti + "\"): " + rc_text(rc));
  }
  rc = Esys_Initialize(&e->ctx_, e->tcti_, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    e->ctx_ = nullptr;
    return fail("Esys_Initialize", rc);
  }
  return e;
}

Esys::~Esys() {
  if (ctx_) Esys_Finalize(&ctx_);
  if (tcti_) Tss2_TctiLdr_Finalize(&tcti_);
}

Status Esys::set_hierarchy_auth(const HierarchyAuth& auth) {
  auto set = [&](ESYS_TR h, const edge::Secret& value, const char* name) -> Status {
    TPM2B_AUTH a{};
    if (value.size() > sizeof a.buffer)
      return edge::invalid(std::string(name) + " authorization value is longer than " +
                           std::to_string(sizeof a.buffer) + " bytes");
    a.size = static_cast<UINT16>(value.size());
    std::memcpy(a.buffer, value.data(), value.size());
    TSS2_RC rc = Esys_TR_SetAuth(ctx_, h, &a);
    ::explicit_bzero(a.buffer, sizeof a.buffer);
    if (rc != TSS2_RC_SUCCESS) return fail("Esys_TR_SetAuth", rc);
    return {};
  };
  EDGE_TRY_VOID(set(ESYS_TR_RH_ENDORSEMENT, auth.endorsement, "endorsement"));
  EDGE_TRY_VOID(set(ESYS_TR_RH_OWNER, auth.owner, "owner"));
  return {};
}

void Transient::reset() {
  if (ctx_ && handle_ != ESYS_TR_NONE) Esys_FlushContext(ctx_, handle_);
  handle_ = ESYS_TR_NONE;
}

Result<ESYS_TR> persistent(Esys& esys, TPM2_HANDLE handle) {
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc =
      Esys_TR_FromTPMPublic(esys.ctx(), handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  if (rc == TSS2_RC_SUCCESS) return tr;
  if (fmt1_error(rc) == TPM2_RC_HANDLE) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", handle);
    return edge::fail(ErrorKind::NotFound, std::string("nothing persisted at ") + buf);
  }
  return fail("Esys_TR_FromTPMPublic", rc);
}

namespace {
Result<ESYS_TR> ensure_primary(Esys& esys, TPM2_HANDLE handle, ESYS_TR hierarchy,
                               const TPM2B_PUBLIC& tmpl, const char* name) {
  auto existing = persistent(esys, handle);
  if (existing) return *existing;
  if (existing.error().kind != ErrorKind::NotFound) return existing;
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  ESYS_TR object = ESYS_TR_NONE;
  TSS2_RC rc = Esys_CreatePrimary(esys.ctx(), hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &sensitive, &tmpl, &outside, &pcrs, &object,
                                  nullptr, nullptr, nullptr, nullptr);
  if (rc != TSS2_RC_SUCCESS)
    return fail(std::string("creating the ") + name + " (CreatePrimary)", rc);
  Transient guard(esys.ctx(), object);
  ESYS_TR persisted = ESYS_TR_NONE;
  rc = Esys_EvictControl(esys.ctx(), ESYS_TR_RH_OWNER, object, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         ESYS_TR_NONE, handle, &persisted);
  if (rc != TSS2_RC_SUCCESS)
    return fail(std::string("persisting the ") + name + " (EvictControl)", rc);
  return persisted;
}
}  // namespace

Result<ESYS_TR> ensure_ek(Esys& esys) {
  return ensure_primary(esys, kEkHandle, ESYS_TR_RH_ENDORSEMENT, ek_template(), "endorsement key");
}

Result<ESYS_TR> ensure_srk(Esys& esys) {
  return ensure_primary(esys, kSrkHandle, ESYS_TR_RH_OWNER, srk_template(), "storage root key");
}

Status evict(Esys& esys, TPM2_HANDLE handle) {
  auto existing = persistent(esys, handle);
  if (!existing) {
    if (existing.error().kind == ErrorKind::NotFound) return {};
    return edge::fail(existing.error());
  }
  ESYS_TR out = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(esys.ctx(), ESYS_TR_RH_OWNER, *existing, ESYS_TR_PASSWORD,
                                 ESYS_TR_NONE, ESYS_TR_NONE, handle, &out);
  if (rc != TSS2_RC_SUCCESS) return fail("evicting the old persistent object (EvictControl)", rc);
  return {};
}

Status persist(Esys& esys, ESYS_TR object, TPM2_HANDLE handle) {
  EDGE_TRY_VOID(evict(esys, handle));
  ESYS_TR out = ESYS_TR_NONE;
  TSS2_RC rc = Esys_EvictControl(esys.ctx(), ESYS_TR_RH_OWNER, object, ESYS_TR_PASSWORD,
                                 ESYS_TR_NONE, ESYS_TR_NONE, handle, &out);
  if (rc != TSS2_RC_SUCCESS) return fail("persisting the key (EvictControl)", rc);
  return {};
}

Result<std::string> read_public(Esys& esys, ESYS_TR object) {
  TPM2B_PUBLIC* pub = nullptr;
  TSS2_RC rc = Esys_ReadPublic(esys.ctx(), object, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub,
                               nullptr, nullptr);
  if (rc != TSS2_RC_SUCCESS) return fail("Esys_ReadPublic", rc);
  auto out = marshal_public(*pub);
  Esys_Free(pub);
  return out;
}

Result<std::string> hmac_sha256(Esys& esys, ESYS_TR key, std::string_view data) {
  TPM2B_MAX_BUFFER buf{};
  TPM2B_DIGEST* mac = nullptr;
  if (data.size() <= sizeof buf.buffer) {
    buf.size = static_cast<UINT16>(data.size());
    std::memcpy(buf.buffer, data.data(), data.size());
    TSS2_RC rc = Esys_HMAC(esys.ctx(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf,
                           TPM2_ALG_SHA256, &mac);
    if (rc != TSS2_RC_SUCCESS) return fail("TPM2_HMAC", rc);
  } else {
    TPM2B_AUTH seq_auth{};
    ESYS_TR seq = ESYS_TR_NONE;
    TSS2_RC rc = Esys_HMAC_Start(esys.ctx(), key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &seq_auth, TPM2_ALG_SHA256, &seq);
    if (rc != TSS2_RC_SUCCESS) return fail("TPM2_HMAC_Start", rc);
    Transient guard(esys.ctx(), seq);
    size_t off = 0;
    // Everything but the last chunk goes through SequenceUpdate.
    while (data.size() - off > sizeof buf.buffer) {
      buf.size = sizeof buf.buffer;
      std::memcpy(buf.buffer, data.data() + off, sizeof buf.buffer);
      off += sizeof buf.buffer;
      rc = Esys_SequenceUpdate(esys.ctx(), seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf);
      if (rc != TSS2_RC_SUCCESS) return fail("TPM2_SequenceUpdate", rc);
    }
    buf.size = static_cast<UINT16>(data.size() - off);
    std::memcpy(buf.buffer, data.data() + off, buf.size);
    TPMT_TK_HASHCHECK* ticket = nullptr;
    rc = Esys_SequenceComplete(esys.ctx(), seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buf,
                               TPM2_RH_NULL, &mac, &ticket);
    if (rc != TSS2_RC_SUCCESS) return fail("TPM2_SequenceComplete", rc);
    Esys_Free(ticket);
    guard.release();  // SequenceComplete flushed the sequence object
  }
  std::string out(reinterpret_cast<const char*>(mac->buffer), mac->size);
  Esys_Free(mac);
  return out;
}

Result<std::string> marshal_public(const TPM2B_PUBLIC& pub) {
  uint8_t buf[sizeof(TPM2B_PUBLIC)];
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof buf, &off);
  if (rc != TSS2_RC_SUCCESS) return fail("marshaling TPM2B_PUBLIC", rc);
  return std::string(reinterpret_cast<char*>(buf), off);
}

Result<std::string> marshal_private(const TPM2B_PRIVATE& priv) {
  uint8_t buf[sizeof(TPM2B_PRIVATE)];
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, buf, sizeof buf, &off);
  if (rc != TSS2_RC_SUCCESS) return fail("marshaling TPM2B_PRIVATE", rc);
  return std::string(reinterpret_cast<char*>(buf), off);
}

Result<TPM2B_PUBLIC> unmarshal_public(std::string_view bytes, size_t* offset) {
  TPM2B_PUBLIC pub{};
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(reinterpret_cast<const uint8_t*>(bytes.data()),
                                              bytes.size(), offset, &pub);
  if (rc != TSS2_RC_SUCCESS) return edge::invalid("malformed TPM2B_PUBLIC: " + rc_text(rc));
  return pub;
}

Result<TPM2B_PRIVATE> unmarshal_private(std::string_view bytes, size_t* offset) {
  TPM2B_PRIVATE priv{};
  TSS2_RC rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(reinterpret_cast<const uint8_t*>(bytes.data()),
                                               bytes.size(), offset, &priv);
  if (rc != TSS2_RC_SUCCESS) return edge::invalid("malformed TPM2B_PRIVATE: " + rc_text(rc));
  return priv;
}

TPM2B_PUBLIC ek_template() {
  // TCG EK Credential Profile, template L-1 (RSA 2048, AES-128-CFB, PolicySecret(endorsement)).
  static const uint8_t policy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8,
                                     0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
                                     0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64,
                                     0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};
  TPM2B_PUBLIC t{};
  auto& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                       TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = sizeof policy;
  std::memcpy(p.authPolicy.buffer, policy, sizeof policy);
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;
  p.unique.rsa.size = 256;  // zeros
  return t;
}

TPM2B_PUBLIC srk_template() {
  // TCG Provisioning Guidance: RSA 2048 storage root key, no auth value, no DA.
  TPM2B_PUBLIC t{};
  auto& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                       TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = 2048;
  p.parameters.rsaDetail.exponent = 0;
  p.unique.rsa.size = 256;  // zeros
  return t;
}

}  // namespace tpm
