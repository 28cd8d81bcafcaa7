// Internal to the super-config parser: one Parser walks the TOML with typed, located reads.
// aziot_config.cpp holds the identity-service part, edge_config.cpp the settings only
// `iotedge` reads; super_config.cpp drives it.
#pragma once
#include <algorithm>
#include <set>
#include <string>

#include "cli/super_config.h"
#include "cli/uris.h"
#include "common/base64.h"
#include "common/config.h"

namespace edge::cli::detail {

using config::Reader;

// Keys that only mean something at the top of the file. Found inside a table they were
// almost always typed below a [section] header by mistake (TOML puts them in that table).
extern const std::set<std::string, std::less<>> kTopLevelScalars;

inline std::string table_name(const std::string& path) { return "[" + path + "]"; }

// The dotted path of the table a Reader reads ("" for the root).
inline std::string path_of(const Reader& r) {
  std::string p = r.key_path("");
  return p.empty() ? p : p.substr(0, p.size() - 1);
}

class Parser {
 public:
  explicit Parser(ParseOutput& out) : out_(out) {}

  // Flags keys a table does not know: a misplaced top-level key is an error (its value would
  // be silently lost), anything else a warning (upstream ignores unknown keys).
  Status check_keys(const Reader& r, const std::string& path,
                    std::initializer_list<std::string_view> allowed);

  Status check_misplaced(const Reader& r, const std::string& path, std::string_view key);

  void warn_unknown(const Reader& r, std::string_view key);

  Result<std::string> url(const Reader& r, std::string_view key);

  Result<std::optional<std::string>> opt_url(const Reader& r, std::string_view key);

  // A URL whose file the services will read: remembered so apply can check it exists.
  Result<std::string> file_ref(const Reader& r, std::string_view key);

  Result<std::string> key_location(const Reader& r, std::string_view key);

  Result<Reader> sub(const Reader& r, std::string_view key, bool required);

  Result<std::string> enum_string(const Reader& r, std::string_view key,
                                  std::initializer_list<std::string_view> allowed);

  Result<std::string> policy(const Reader& r, std::string_view key);

  Result<AutoRenew> auto_renew(const Reader& r);

  Result<std::optional<CertSubject>> subject(const Reader& r);

  void warn_http(const std::string& u);

  // username/password plus identity_* or bootstrap_identity_* in the same table.
  Result<EstAuth> est_auth(const Reader& r);

  Result<IssuanceOptions> issuance(const Reader& r, std::initializer_list<std::string_view> extra);

  // The identity_cert / identity_pk pair of a provisioning table.
  Result<X509Identity> x509_identity(const Reader& r);

  Result<SymmetricKey> symmetric_key(const Reader& parent, std::string_view key);

  Result<Provisioning> provisioning(const Reader& root);

  Result<std::optional<Est>> est(const Reader& ci);

  Result<std::optional<LocalCa>> local_ca(const Reader& ci);

  Result<AziotConfig> aziot(const Reader& r);

  // ---- iotedge-only settings (edge_config.cpp) ----

  Result<Table> agent(const Reader& root);
  Result<std::pair<std::string, std::string>> uri_pair(
      const Reader& root, std::string_view key, std::pair<std::string, std::string> defaults);
  Result<EdgeCa> edge_ca(const Reader& r);
  Result<int64_t> duration(const Reader& r, std::string_view key);
  Result<ImagePrune> image_gc(const Reader& r);
  Result<Value> network(const Reader& m);
  Result<EdgeConfig> edge(const Reader& r);

 private:
  ParseOutput& out_;
};

}  // namespace edge::cli::detail
