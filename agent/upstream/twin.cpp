#include "agent/upstream/twin.h"

namespace agent::upstream {

namespace {
long long version_of(const Json& j) {
  auto it = j.find("$version");
  return it != j.end() && it->is_number_integer() ? it->get<long long>() : -1;
}
}  // namespace

void DesiredState::set(Json desired) {
  if (!desired.is_object()) desired = Json::object();
  doc_ = std::move(desired);
}

long long DesiredState::version() const { return doc_ ? version_of(*doc_) : -1; }

DesiredState::Patch DesiredState::apply(const Json& patch) {
  long long v = version_of(patch);
  if (!doc_ || v < 0) return Patch::Gap;
  if (v <= version()) return Patch::Stale;
  if (v != version() + 1) return Patch::Gap;
  doc_->merge_patch(patch);
  (*doc_)["$version"] = v;
  return Patch::Applied;
}

Json diff(const Json& from, const Json& to) {
  Json patch = Json::object();
  if (!from.is_object() || !to.is_object()) return to;
  for (const auto& [key, value] : from.items())
    if (!to.contains(key)) patch[key] = nullptr;
  for (const auto& [key, value] : to.items()) {
    auto it = from.find(key);
    if (it == from.end()) {
      patch[key] = value;
    } else if (*it != value) {
      patch[key] = it->is_object() && value.is_object() ? diff(*it, value) : value;
    }
  }
  return patch;
}

Json known_reported(const Json& reported) {
  Json out = Json::object();
  if (!reported.is_object()) return out;
  for (const char* key : {"schemaVersion", "version", "lastDesiredVersion", "lastDesiredStatus",
                          "runtime", "systemModules", "modules"})
    if (reported.contains(key) && !reported[key].is_null()) out[key] = reported[key];
  return out;
}

}  // namespace agent::upstream
