#include "agent/agent.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>

#include "common/fs.h"
#include "common/log.h"

namespace agent {

namespace {
int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string doc_text(const DesiredDocument& d) {
  return Json{{"version", d.version}, {"desired", d.desired}}.dump();
}
}  // namespace

Agent::Agent(AgentOptions options, DesiredSource source, std::unique_ptr<DeploymentStore> store)
    : options_(std::move(options)),
      source_(std::move(source)),
      store_(std::move(store)),
      runner_(options_.runner),
      guard_(*store_, options_.rollback) {
  edge::log::info(std::string("Keeping the last good deployment in a ") + store_->kind());
}

void Agent::wake() {
  {
    std::lock_guard lock(mutex_);
    wake_ = true;
  }
  woken_.notify_one();
}

AgentStatus Agent::status() const {
  AgentStatus s;
  {
    std::lock_guard lock(mutex_);
    s.deployment = published_;
  }
  s.modules = runner_.module_states();
  return s;
}

static Json report_json(const DeploymentReport& r) {
  Json j{{"version", r.version},
         {"code", r.code},
         {"description", r.description},
         {"rolledBack", r.rolled_back}};
  if (r.rolled_back)
    j.update(Json{{"rolledBackFrom", r.rolled_back_from},
                  {"rolledBackTo", r.rolled_back_to},
                  {"rollbackReason", r.rollback_reason}});
  return j;
}

void Agent::publish(const DeploymentReport& report) {
  std::lock_guard lock(mutex_);
  bool changed = !published_once_ || report_json(report) != report_json(published_);
  published_once_ = true;
  if (changed && !options_.status_file.empty())
    if (auto s = edge::fs::write_atomic(options_.status_file, report_json(report).dump(), 0644); !s)
      edge::log::warn("Failed to write " + options_.status_file + ": " + s.error().message);
  if (report.code != published_.code || report.description != published_.description) {
    std::string line = "Deployment " + std::to_string(report.version) + ": " +
                       std::to_string(report.code) +
                       (report.description.empty() ? "" : " " + report.description);
    if (report.code == 200)
      edge::log::info(line);
    else
      edge::log::error("Deployment not applied: " + std::to_string(report.code) + " " +
                       report.description);
  }
  published_ = report;
}

int64_t Agent::pass(int64_t now) {
  auto doc = source_();
  bool source_ok = false;
  if (!doc) {
    report_.code = doc.error().code;
    report_.description = doc.error().message;
  } else if (auto d = parse_deployment(doc->desired, options_.gateway); !d) {
    report_.version = doc->version;
    report_.code = d.error().code;
    report_.description = d.error().message;
  } else if (doc_text(*doc) == rejected_) {
    source_ok = false;  // still the deployment that was rolled back: keep the restored one
  } else {
    if (!active_ || doc_text(active_->doc) != doc_text(*doc)) {
      rejected_.clear();
      report_.rolled_back = false;
    }
    active_ = Active{*d, *doc};
    report_.version = doc->version;
    source_ok = true;
  }
  if (!active_ && guard_.last_good()) {
    if (auto d = parse_deployment(guard_.last_good()->desired, options_.gateway); d) {
      edge::log::info("No valid deployment from the source: starting from the last good one");
      active_ = Active{*d, *guard_.last_good()};
    }
  }
  if (!active_) {
    publish(report_);
    return now + options_.interval_ms;
  }
  int64_t next = now + options_.interval_ms;
  auto r = runner_.reconcile(active_->deployment, active_->doc.version, now);
  if (!r) {
    if (source_ok) {
      report_.code = 500;
      report_.description = r.error().message;
    }
    publish(report_);
    return next;
  }
  if (!r->summary.empty()) edge::log::info("Reconciled: " + r->summary);
  if (source_ok) {
    if (r->failed) {
      report_.code = 500;
      report_.description = r->first_error;
    } else if (r->skipped == 0) {
      report_.code = 200;
      report_.description.clear();
    }
  }
  auto verdict = guard_.observe(active_->doc, r->converged, now);
  if (verdict == RollbackGuard::Verdict::RollBack) {
    auto good = parse_deployment(guard_.last_good()->desired, options_.gateway);
    if (good) {
      report_.rolled_back = true;
      report_.rolled_back_from = active_->doc.version;
      report_.rolled_back_to = guard_.last_good()->version;
      report_.rollback_reason = "deployment " + std::to_string(active_->doc.version) +
                                " did not become healthy within " +
                                std::to_string(options_.rollback.deadline_ms / 1000) + " s";
      report_.code = 500;
      report_.description = report_.rollback_reason + "; rolled back to deployment " +
                            std::to_string(report_.rolled_back_to);
      rejected_ = doc_text(active_->doc);
      active_ = Active{*good, *guard_.last_good()};
      next = now;  // apply the good one at once
    }
  }
  publish(report_);
  if (r->next_due_ms) next = std::min(next, r->next_due_ms);
  if (int64_t check = guard_.next_check_ms(); check) next = std::min(next, check + 1);
  return next;
}

void Agent::shutdown() {
  DeploymentReport r = report_;
  r.code = 406;
  r.description = "Agent is not running";
  publish(r);
  edge::log::info("Stopping the modules");
  auto stopped = runner_.stop_all();
  if (!stopped) {
    edge::log::warn("Failed to stop the modules: " + stopped.error().message);
    return;
  }
  std::string names;
  for (const auto& n : *stopped) names += (names.empty() ? "" : ", ") + n;
  edge::log::info("Stopped " + std::to_string(stopped->size()) + " module(s)" +
                  (names.empty() ? "" : ": " + names));
}

void Agent::run(const std::function<bool()>& stopping) {
  while (!stopping()) {
    int64_t next = pass(now_ms());
    if (options_.after_pass)
      options_.after_pass(runner_, active_ ? &active_->deployment : nullptr,
                          active_ ? active_->doc.desired : Json::object(),
                          active_ ? active_->doc.version : 0, report_);
    malloc_trim(0);  // a pass parses manifests and module lists: hand the freed pages back
    std::unique_lock lock(mutex_);
    while (!wake_ && !stopping()) {
      int64_t left = next - now_ms();
      if (left <= 0) break;
      woken_.wait_for(lock, std::chrono::milliseconds(std::min<int64_t>(left, 250)));
    }
    if (wake_) {
      wake_ = false;
      // Events come in bursts (our own create/start): let them settle into one pass.
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      lock.lock();
      wake_ = false;
    }
  }
}

}  // namespace agent
