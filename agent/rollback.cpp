#include "agent/rollback.h"

#include <cmath>
#include <cstdlib>

#include "common/log.h"

namespace agent {

namespace {
int64_t env_ms(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(d) || d < 0 || d > 1e7) return fallback;
  return static_cast<int64_t>(d * 1000);
}

std::string stored_text(const DesiredDocument& doc) {
  return Json{{"version", doc.version}, {"deploymentConfig", doc.desired}}.dump();
}
}  // namespace

RollbackSettings RollbackSettings::from_env() {
  RollbackSettings s;
  s.deadline_ms = env_ms("DeploymentRollbackTimeoutSecs", s.deadline_ms);
  s.stable_ms = env_ms("DeploymentStableSecs", s.stable_ms);
  return s;
}

RollbackGuard::RollbackGuard(DeploymentStore& store, RollbackSettings settings)
    : store_(store), settings_(settings) {
  auto text = store_.load();
  if (!text) return;
  auto doc = read_manifest(*text);
  if (!doc) {
    edge::log::warn("Ignoring the stored last good deployment: " + doc.error().message);
    return;
  }
  last_good_ = *doc;
  good_text_ = stored_text(*doc);
}

RollbackGuard::Verdict RollbackGuard::observe(const DesiredDocument& doc, bool converged,
                                              int64_t now) {
  std::string text = stored_text(doc);
  if (text != applying_text_) {
    applying_text_ = text;
    applying_since_ = now;
    converged_since_.reset();
  }
  if (text == good_text_) return Verdict::Good;
  if (!converged) {
    converged_since_.reset();
  } else {
    if (!converged_since_) converged_since_ = now;
    if (now - *converged_since_ >= settings_.stable_ms) {
      if (auto s = store_.save(text); !s) {
        edge::log::warn("Failed to save the last good deployment: " + s.error().message);
      }
      last_good_ = doc;
      good_text_ = text;
      return Verdict::Good;
    }
  }
  // A deployment that is converging at the deadline gets its stable window to prove itself.
  if (!converged && settings_.deadline_ms > 0 && last_good_ &&
      now - applying_since_ >= settings_.deadline_ms)
    return Verdict::RollBack;
  return Verdict::Pending;
}

int64_t RollbackGuard::next_check_ms() const {
  if (applying_text_.empty() || applying_text_ == good_text_) return 0;
  if (converged_since_) return *converged_since_ + settings_.stable_ms;
  return settings_.deadline_ms > 0 && last_good_ ? applying_since_ + settings_.deadline_ms : 0;
}

}  // namespace agent
