// The identity daemons' `[[principal]] uid = N, <ids> = ["pattern*", ...]` rule: uid 0 may use
// every id; another uid may use the ids matching a pattern (`*`, `?`) of any of its entries.
#pragma once
#include <fnmatch.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace edge {

template <class Principal, class Patterns>
bool principal_allows(const std::vector<Principal>& principals, uid_t uid, const std::string& id,
                      Patterns patterns_of) {
  if (uid == 0) return true;
  for (const auto& p : principals) {
    if (p.uid != uid) continue;
    for (const auto& pattern : patterns_of(p))
      if (::fnmatch(pattern.c_str(), id.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace edge
