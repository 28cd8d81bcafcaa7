// The DPS side of TPM attestation, in software (OpenSSL + tss2-mu, no TPM needed): builds the
// "authenticationKey" blob that DPS returns to a device, which aziot-tpmd's
// POST /import_auth_key consumes. Used by the hub emulator's DPS, keyd and the tpmd tests.
//
// Blob layout (concatenated marshaled TPM2B structures, as upstream aziot-tpmd reads it):
//   TPM2B_ID_OBJECT        credentialBlob  MakeCredential(EK, innerKey, name(SRK))
//   TPM2B_ENCRYPTED_SECRET secret          seed for the credential, RSA-OAEP to the EK ("IDENTITY")
//   TPM2B_PRIVATE          duplicate       the HMAC key's sensitive area, inner-wrapped with
//                                          innerKey (AES-128-CFB), outer-wrapped for the SRK
//   TPM2B_ENCRYPTED_SECRET inSymSeed       seed for the outer wrap, RSA-OAEP to the SRK
//   ("DUPLICATE") TPM2B_PUBLIC           objectPublic    KEYEDHASH, HMAC-SHA256,
//   userWithAuth|sign|noDA
#pragma once
#include <tss2/tss2_tpm2_types.h>

#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/result.h"
#include "common/secret.h"

namespace tpm::dps {

// ek_public / srk_public: marshaled TPM2B_PUBLIC as GET /get_tpm_keys returns them (base64
// decoded). hmac_key: the symmetric key DPS gives the device (1..128 bytes).
edge::Result<std::string> make_auth_key_blob(std::string_view ek_public,
                                             std::string_view srk_public,
                                             const edge::Secret& hmac_key);

// What DPS does when a device registers with {"tpm": {"endorsementKey", "storageRootKey"}}
// (both base64-decoded): a fresh 32-byte HMAC key, and the blob that carries it to that TPM
// (sent back base64-encoded as "authenticationKey"). The caller keeps `key` to check the
// device's SAS tokens.
struct AuthKeyChallenge {
  edge::Secret key;
  std::string blob;
};
edge::Result<AuthKeyChallenge> make_auth_key_challenge(std::string_view ek_public,
                                                       std::string_view srk_public);

// Checks that `bytes` is one marshaled TPM2B_PUBLIC of an RSA key with a SHA-256 name, the
// kind of endorsement / storage root key make_auth_key_blob accepts. `what` names it in errors.
edge::Status check_rsa_public(std::string_view bytes, const char* what);

// Name of an object: nameAlg (2 bytes) || H_nameAlg(marshaled TPMT_PUBLIC). SHA-256 only.
edge::Result<std::string> object_name(const TPMT_PUBLIC& pub);
// KDFa (TPM 2.0 part 1, 11.4.10.2) with SHA-256.
std::string kdfa_sha256(std::string_view key, std::string_view label, std::string_view context_u,
                        std::string_view context_v, size_t bits);
// An OpenSSL key for an RSA or ECC TPM public area.
edge::Result<edge::crypto::PKey> to_pkey(const TPMT_PUBLIC& pub);

}  // namespace tpm::dps
