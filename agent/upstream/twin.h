// The `$edgeAgent` twin as the agent keeps it: the desired document with version ordering for
// patches, and reported-property diffs (only what changed; removed keys become null).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>

namespace agent::upstream {

using Json = nlohmann::json;

class DesiredState {
 public:
  enum class Patch { Applied, Stale, Gap };
  // The desired section of a full twin GET (with "$version").
  void set(Json desired);
  // A desired patch pushed by the hub: applied when it is the next version; an older one is
  // ignored; a gap means a patch was missed and the caller must GET the twin again.
  Patch apply(const Json& patch);
  const std::optional<Json>& document() const { return doc_; }
  long long version() const;

 private:
  std::optional<Json> doc_;
};

// The JSON merge patch that turns `from` into `to` (objects recursively; nulls delete).
Json diff(const Json& from, const Json& to);
// The reported properties the agent owns, out of a twin's reported section.
Json known_reported(const Json& reported);

}  // namespace agent::upstream
