// Beyond upstream: rollback to the last good deployment. A deployment is good once every module
// has been in its desired state for `stable_ms`; it is then saved in the store. One that is
// not good within `deadline_ms` of being applied is given up for the last good one.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "agent/deployment_store.h"
#include "agent/manifest.h"

namespace agent {

struct RollbackSettings {
  int64_t deadline_ms = 600'000;  // 0: never roll back
  int64_t stable_ms = 30'000;
  // DeploymentRollbackTimeoutSecs, DeploymentStableSecs (decimals allowed).
  static RollbackSettings from_env();
};

class RollbackGuard {
 public:
  enum class Verdict { Pending, Good, RollBack };

  RollbackGuard(DeploymentStore& store, RollbackSettings settings);
  // The last good deployment from the store (nullopt: none yet).
  const std::optional<DesiredDocument>& last_good() const { return last_good_; }
  // Called after every reconcile pass toward `doc` with whether all its modules were in their
  // desired state.
  Verdict observe(const DesiredDocument& doc, bool converged, int64_t now_ms);
  // When observe() should run again for the verdict to move on (0: no need).
  int64_t next_check_ms() const;

 private:
  DeploymentStore& store_;
  RollbackSettings settings_;
  std::optional<DesiredDocument> last_good_;
  std::string good_text_;      // last_good_ as stored
  std::string applying_text_;  // the deployment being watched
  int64_t applying_since_ = 0;
  std::optional<int64_t> converged_since_;  // unset: not converged at the last pass
};

}  // namespace agent
