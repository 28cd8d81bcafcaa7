// Uploads to an Azure Blob Storage container through the SAS URL a direct method carries
// (`https://<account>.blob.core.windows.net/<container>?<sas>`), as upstream's agent does for
// UploadModuleLogs and UploadSupportBundle: block blobs in one Put Blob, append blobs created
// empty and then grown with Append Block. Blob REST API, x-ms-version 2020-04-08.
#pragma once
#include <ctime>
#include <string>

#include "common/cloud/exchange.h"
#include "common/result.h"

namespace agent::upstream {

constexpr size_t kMaxAppendBlock = 4 * 1024 * 1024;  // the service's Append Block limit

class BlobContainer {
 public:
  // `sas_url`: the container URL with its SAS query; `$upstream` in it is replaced by
  // `gateway` (nested edge, as upstream). `trust_pem`: roots trusted besides the system ones.
  // Over the agent's Mbed TLS (tls.h).
  static edge::Result<BlobContainer> open(const std::string& sas_url, const std::string& gateway,
                                          const std::string& trust_pem);
  edge::Status put_block_blob(const std::string& name, const std::string& body,
                              const std::string& content_type,
                              const std::string& content_encoding) const;
  edge::Status create_append_blob(const std::string& name, const std::string& content_type,
                                  const std::string& content_encoding) const;
  edge::Status append_block(const std::string& name, const std::string& body) const;

 private:
  edge::Status put(const std::string& name, const std::string& comp,
                   const edge::cloud::HeaderList& headers, const std::string& body) const;
  std::string base_;   // https://host[:port]/container
  std::string query_;  // the SAS, without '?'
  std::string trust_pem_;
  edge::cloud::ExchangeOptions options_;
};

// Upstream's blob names: "{hub}/{device}/{id}-{yyyy-MM-dd--HH-mm-ss}.{extension}" (UTC).
std::string blob_name(const std::string& hub, const std::string& device, const std::string& id,
                      const std::string& extension, std::time_t now);

}  // namespace agent::upstream
