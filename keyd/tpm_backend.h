// Keys inside a TPM 2.0 (keyd config: [aziot_keys] tpm_tcti = "swtpm:host=...,port=..." or
// "device:/dev/tpmrm0"; optional tpm_owner_auth = owner hierarchy password, needed only when
// the storage root key must be created).
//
// Key pairs (EC P-256, RSA-2048) and HMAC-SHA256 keys are created by the TPM under the storage
// root key at 0x81000001 (created and persisted when missing, as aziot-tpmd does). Each key is
// stored as a TPM-wrapped blob file (magic "AZTPMKEY" || TPM2B_PUBLIC || TPM2B_PRIVATE, mode
// 0600): the private part is encrypted by the TPM and only usable by that TPM. Every operation
// connects, loads the blob, uses it and flushes it (no resource manager is assumed).
//
// Not in the TPM: AES-GCM keys (usage "encrypt"; the TPM has no GCM) report Unsupported so the
// key store falls back to a file, as upstream does for tokens without AES-GCM.
//
// The backend (tpm_backend.cpp) is a plugin, aziot-keyd-tpm.so, linked with tpm2-tss: keyd loads
// it only when tpm_tcti is set, so a keyd without a TPM never maps the tss2 libraries (their
// relocated pages were ~370 KiB of keyd's PSS).
#pragma once
#include <memory>
#include <string>

#include "keyd/backend.h"

namespace keyd {

// Loads the plugin (tpm_loader.cpp) and makes the backend; the plugin stays loaded.
edge::Result<std::unique_ptr<Backend>> make_tpm_backend(const std::string& tcti,
                                                        const edge::Secret& owner_auth);
// homedir/keys/<id with only ASCII alphanumerics kept>-<hex sha256(id)>.tpmkey
std::string tpm_key_file_path(const std::string& homedir, const std::string& id);

// What the plugin exports: extern "C" TpmBackendFactory keyd_tpm_backend_factory();
using TpmBackendFactory = edge::Result<std::unique_ptr<Backend>> (*)(
    const std::string& tcti, const edge::Secret& owner_auth);
// Where the plugin is looked for, relative to the directory of the aziot-keyd executable: next
// to it (e.g. both in /usr/libexec/aziot-identity-service, the units' layout), then the build
// and `cmake --install` layout.
constexpr const char* kTpmPluginRelativePaths[] = {"aziot-keyd-tpm.so",
                                                   "../lib/iotedge-lite/aziot-keyd-tpm.so"};

}  // namespace keyd
