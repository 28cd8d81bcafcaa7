// Thin RAII layer over tpm2-tss ESYS, shared by aziot-tpmd and keyd's TPM backend.
//
// There may be no resource manager between us and the TPM (swtpm over TCP, /dev/tpm0), so:
// - a context is opened per operation and closed right after (another process, e.g. tpmd and
//   keyd, can then use the same TPM in between; a restarted TPM is simply reconnected);
// - every transient object and session is flushed before the context closes (Transient).
#pragma once
#include <tss2/tss2_esys.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace tpm {

using edge::Result;
using edge::Status;

// Well-known persistent handles (TCG EK Credential Profile / upstream aziot-tpmd).
constexpr TPM2_HANDLE kEkHandle = 0x81010001;
constexpr TPM2_HANDLE kSrkHandle = 0x81000001;
constexpr TPM2_HANDLE kAuthKeyBase = 0x81000000;
constexpr uint32_t kMaxAuthKeyIndex = 0x7FFFFF;

// "tpm:error(2.0): authorization failure without DA implications" etc.
std::string rc_text(TSS2_RC rc);
// An error value for a failed ESYS call. Transport (TCTI) failures are Unavailable; a wrong
// hierarchy password is Unauthorized; everything else Internal.
std::unexpected<edge::Error> fail(const std::string& what, TSS2_RC rc);

struct HierarchyAuth {
  edge::Secret endorsement;
  edge::Secret owner;
};

class Esys {
 public:
  // tcti: a tctildr string ("swtpm:host=127.0.0.1,port=2321", "device:/dev/tpmrm0", "" =
  // tctildr's default search). Connects; fails with Unavailable when the TPM does not answer.
  static Result<std::unique_ptr<Esys>> open(const std::string& tcti);
  ~Esys();
  Esys(const Esys&) = delete;
  Esys& operator=(const Esys&) = delete;

  ESYS_CONTEXT* ctx() const { return ctx_; }
  Status set_hierarchy_auth(const HierarchyAuth& auth);

 private:
  Esys() = default;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* ctx_ = nullptr;
};

// A transient object or session, flushed when it goes out of scope.
class Transient {
 public:
  Transient() = default;
  Transient(ESYS_CONTEXT* ctx, ESYS_TR handle) : ctx_(ctx), handle_(handle) {}
  Transient(Transient&& o) noexcept : ctx_(o.ctx_), handle_(o.handle_) { o.handle_ = ESYS_TR_NONE; }
  Transient& operator=(Transient&& o) noexcept {
    reset();
    ctx_ = o.ctx_;
    handle_ = o.handle_;
    o.handle_ = ESYS_TR_NONE;
    return *this;
  }
  ~Transient() { reset(); }
  ESYS_TR get() const { return handle_; }
  // Forgets the handle without flushing it (the TPM already flushed it).
  ESYS_TR release() {
    ESYS_TR h = handle_;
    handle_ = ESYS_TR_NONE;
    return h;
  }
  void reset();

 private:
  ESYS_CONTEXT* ctx_ = nullptr;
  ESYS_TR handle_ = ESYS_TR_NONE;
};

// The ESYS_TR of a persistent handle; NotFound when nothing is persisted there.
Result<ESYS_TR> persistent(Esys& esys, TPM2_HANDLE handle);
// EK (RSA-2048, TCG default template, endorsement hierarchy) at kEkHandle and SRK (RSA-2048
// storage key, owner hierarchy) at kSrkHandle: read them, or create and persist them.
Result<ESYS_TR> ensure_ek(Esys& esys);
Result<ESYS_TR> ensure_srk(Esys& esys);
// Makes `object` persistent at `handle`, first evicting whatever is there (owner auth).
Status persist(Esys& esys, ESYS_TR object, TPM2_HANDLE handle);
Status evict(Esys& esys, TPM2_HANDLE handle);  // absent is not an error

// Marshaled TPM2B_PUBLIC of a loaded / persistent object.
Result<std::string> read_public(Esys& esys, ESYS_TR object);

// HMAC-SHA256 with a loaded keyed-hash key (sequence commands above the TPM's buffer size).
Result<std::string> hmac_sha256(Esys& esys, ESYS_TR key, std::string_view data);

// Marshaling helpers (tss2-mu), bounded and checked.
Result<std::string> marshal_public(const TPM2B_PUBLIC& pub);
Result<std::string> marshal_private(const TPM2B_PRIVATE& priv);
Result<TPM2B_PUBLIC> unmarshal_public(std::string_view bytes, size_t* offset);
Result<TPM2B_PRIVATE> unmarshal_private(std::string_view bytes, size_t* offset);

// Templates.
TPM2B_PUBLIC ek_template();
TPM2B_PUBLIC srk_template();

}  // namespace tpm
