// Small helpers shared by the Hub's translation units.
#pragma once
#include <string>

#include "emulator/hub.h"

namespace emulator::detail {

int64_t now_s();
std::string now_iso();
std::string new_key();            // base64 of 32 random bytes
std::string new_generation_id();  // 18 decimal digits, like IoT Hub's
std::string new_etag();
// If-Match semantics: empty or * (quoted or not) match anything.
bool etag_matches(std::string if_match, const std::string& etag);
std::string client_id_of(const std::string& dev, const std::string& mod);
Json new_twin_state();
// RFC 7396 merge: null removes a key; objects merge recursively; everything else replaces.
void merge_patch(Json& target, const Json& patch);
// The merge patch that turns `from` into `to` (removed keys become null), for desired pushes.
Json diff_patch(const Json& from, const Json& to);
// Serialized size of a property document, the way the 32 KB limit counts it.
size_t properties_size(const Json& props);
// The bytes of a base64 marshaled TPM2B_PUBLIC (an RSA key with a SHA-256 name, as TPM
// endorsement and storage root keys are), else a BadRequest naming `what`.
edge::Result<std::string> tpm_public_bytes(const Json& value, const char* what);
// DPS service API IndividualEnrollment ({"registrationId", "deviceId"?, "attestation": {"type":
// "tpm"|"symmetricKey"|"x509", ...}, "capabilities"?, "initialTwin"?}) <-> the admin API's flat
// enrollment the hub stores.
edge::Result<Json> enrollment_from_service(const Json& body);
Json enrollment_to_service(const Json& enrollment);
// Removes "$"-prefixed metadata keys a client may send ($version, $metadata).
Json strip_metadata(const Json& props);

}  // namespace emulator::detail
