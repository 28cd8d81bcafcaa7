#include "agent/upstream/hub_connection.h"

#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <charconv>
#include <ctime>

#include "common/log.h"
#include "common/uri.h"

namespace agent::upstream {
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {
constexpr char kApiVersion[] = "2021-04-12";
constexpr auto kReportRetry = 30s;
}  // namespace

bool parse_response_topic(const std::string& topic, const std::string& prefix, int& status,
                          std::string& query) {
  if (!topic.starts_with(prefix)) return false;
  const char* begin = topic.data() + prefix.size();
  const char* end = topic.data() + topic.size();
  auto [p, ec] = std::from_chars(begin, end, status);
  if (ec != std::errc{} || p == begin) return false;
  std::string_view rest(p, static_cast<size_t>(end - p));
  if (!rest.starts_with("/?")) return false;
  query = std::string(rest.substr(2));
  return true;
}

std::string query_value(const std::string& query, const std::string& name) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (kv.size() > name.size() && kv.starts_with(name) && kv[name.size()] == '=')
      return kv.substr(name.size() + 1);
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return {};
}

HubConnection::HubConnection(Settings settings, std::shared_ptr<Signer> signer,
                             std::string trust_bundle_pem, MethodHandler methods)
    : settings_(std::move(settings)),
      signer_(std::move(signer)),
      trust_pem_(std::move(trust_bundle_pem)),
      methods_(std::move(methods)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

HubConnection::~HubConnection() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void HubConnection::start() {
  thread_ = std::thread([this] { run(); });
  method_thread_ = std::thread([this] { method_worker(); });
}

void HubConnection::stop() {
  stop_ = true;
  wake();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (method_thread_.joinable()) method_thread_.join();
}

void HubConnection::wake() {
  uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

std::optional<Json> HubConnection::desired() const {
  std::lock_guard lock(mu_);
  return desired_.document();
}

void HubConnection::wait_for_desired(long long version, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stop_ || desired_.version() != version; });
}

void HubConnection::report(Json state) {
  {
    std::lock_guard lock(mu_);
    if (wanted_ == state) return;
    wanted_ = std::move(state);
  }
  wake();
}

std::optional<Json> HubConnection::acknowledged() const {
  std::lock_guard lock(mu_);
  return acked_;
}

bool HubConnection::flush_report(std::chrono::milliseconds timeout) {
  wake();
  std::unique_lock lock(mu_);
  report_retry_at_ = {};
  return cv_.wait_for(lock, timeout, [&] { return acked_ && wanted_ && *acked_ == *wanted_; });
}

std::string HubConnection::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::string HubConnection::next_rid() {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%lx", ++rid_counter_);
  return buf;
}

void HubConnection::sleep_interruptible(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return stop_.load(); });
}

void HubConnection::run() {
  auto backoff = 1s;
  std::string logged;
  while (!stop_) {
    auto started = Clock::now();
    auto s = session();
    connected_ = false;
    {
      std::lock_guard lock(mu_);
      get_rid_.clear();
      report_rid_.clear();
    }
    if (stop_) break;
    if (s) {  // token renewal: reconnect at once
      backoff = 1s;
      continue;
    }
    if (Clock::now() - started > 2min) backoff = 1s;
    std::string message =
        "Failed to connect to " + settings_.connect_host() + ": " + s.error().message;
    {
      std::lock_guard lock(mu_);
      last_error_ = s.error().message;
    }
    if (message != logged) edge::log::error(message + "; retrying");
    logged = message;
    sleep_interruptible(backoff);
    backoff = std::min<std::chrono::seconds>(backoff * 2, 60s);
  }
}

edge::Status HubConnection::session() {
  auto lifetime = settings_.token_lifetime;
  long long expiry = static_cast<long long>(std::time(nullptr)) + lifetime.count();
  auto token = EDGE_TRY(make_sas_token(*signer_, settings_.resource(), expiry));
  bool ws = settings_.protocol == Protocol::MqttWs;
  TransportOptions t{settings_.connect_host(),
                     ws ? settings_.websocket_port : settings_.mqtt_port,
                     ws,
                     settings_.proxy,
                     trust_pem_,
                     true,
                     30s};
  auto transport = EDGE_TRY(open_transport(t));
  mqtt::ConnectOptions o;
  o.client_id = settings_.device_id + "/" + settings_.module_id;
  o.username = settings_.iothub_hostname + "/" + o.client_id + "/?api-version=" + kApiVersion +
               "&DeviceClientType=" + edge::uri::percent_encode("EdgeAgent/" EDGE_VERSION);
  o.password = std::string(token.view());
  o.keepalive_seconds = static_cast<uint16_t>(settings_.keepalive.count());
  auto connecting = MqttSession::connect(std::move(transport), o, 30s);
  ::explicit_bzero(o.password.data(), o.password.size());
  auto session = EDGE_TRY(std::move(connecting));
  EDGE_TRY_VOID(session->subscribe({{"$iothub/twin/res/#", 0},
                                    {"$iothub/twin/PATCH/properties/desired/#", 0},
                                    {"$iothub/methods/POST/#", 0}},
                                   30s));
  edge::log::info("Connected to " + settings_.connect_host() + " over " + (ws ? "MqttWs" : "Mqtt") +
                  (ws && settings_.proxy ? " through proxy " + settings_.proxy->display() : ""));
  connected_ = true;
  {
    std::lock_guard lock(mu_);
    last_error_.clear();
    get_needed_ = true;
  }
  // Renew when 15 % of the lifetime is left, as upstream's SDK does: a new session, new token.
  auto renew_at = Clock::now() + lifetime * 85 / 100;
  while (!stop_) {
    if (Clock::now() >= renew_at) {
      edge::log::info("Renewing the SAS token: reconnecting");
      session->disconnect();
      return {};
    }
    send_pending(*session);
    auto messages = EDGE_TRY(session->poll(1s, wake_fd_));
    uint64_t drained;
    [[maybe_unused]] auto n = ::read(wake_fd_, &drained, sizeof drained);
    for (const auto& m : messages) handle(*session, m);
  }
  session->disconnect();
  return {};
}

void HubConnection::send_pending(MqttSession& s) {
  std::lock_guard lock(mu_);
  auto now = Clock::now();
  if (get_needed_ ||
      (get_rid_.empty() && refresh_at_ != Clock::time_point{} && now >= refresh_at_)) {
    get_needed_ = false;
    get_rid_ = next_rid();
    refresh_at_ = now + settings_.refresh_period;
    s.publish("$iothub/twin/GET/?$rid=" + get_rid_, " ");
  }
  // Reports go after the twin is known (its reported section is what the diff starts from).
  if (report_rid_.empty() && acked_ && wanted_ && *acked_ != *wanted_ && now >= report_retry_at_) {
    Json patch = diff(*acked_, *wanted_);
    report_rid_ = next_rid();
    report_snapshot_ = *wanted_;
    s.publish("$iothub/twin/PATCH/properties/reported/?$rid=" + report_rid_, patch.dump());
    edge::log::debug("Reporting " + patch.dump());
  }
  while (!outbox_.empty()) {
    s.publish(outbox_.front().first, outbox_.front().second);
    outbox_.pop_front();
  }
}

void HubConnection::handle(MqttSession&, const mqtt::Message& m) {
  int status = 0;
  std::string query;
  if (parse_response_topic(m.topic, "$iothub/twin/res/", status, query)) {
    std::string rid = query_value(query, "$rid");
    std::lock_guard lock(mu_);
    if (!rid.empty() && rid == get_rid_) {
      get_rid_.clear();
      Json twin = Json::parse(m.payload, nullptr, false);
      if (status != 200 || !twin.is_object()) {
        edge::log::warn("The hub answered the twin GET with " + std::to_string(status));
        return;
      }
      long long before = desired_.version();
      desired_.set(twin.value("desired", Json::object()));
      if (report_rid_.empty()) acked_ = known_reported(twin.value("reported", Json::object()));
      if (desired_.version() != before) cv_.notify_all();
    } else if (!rid.empty() && rid == report_rid_) {
      report_rid_.clear();
      if (status / 100 == 2) {
        acked_ = report_snapshot_;
        cv_.notify_all();
      } else {
        edge::log::warn("The hub refused the reported properties: " + std::to_string(status) + " " +
                        m.payload);
        report_retry_at_ = Clock::now() + kReportRetry;
      }
    }
    return;
  }
  if (m.topic.starts_with("$iothub/twin/PATCH/properties/desired/")) {
    Json patch = Json::parse(m.payload, nullptr, false);
    std::lock_guard lock(mu_);
    if (!patch.is_object()) {
      get_needed_ = true;
      return;
    }
    switch (desired_.apply(patch)) {
      case DesiredState::Patch::Applied:
        cv_.notify_all();
        break;
      case DesiredState::Patch::Stale:
        break;
      case DesiredState::Patch::Gap:
        get_needed_ = true;
        break;
    }
    return;
  }
  if (m.topic.starts_with("$iothub/methods/POST/")) {
    std::string rest = m.topic.substr(21);
    size_t slash = rest.find("/?");
    std::string name = rest.substr(0, slash);
    std::string rid = slash == std::string::npos ? "" : query_value(rest.substr(slash + 2), "$rid");
    if (name.empty() || rid.empty()) return;
    std::lock_guard lock(mu_);
    if (calls_.size() >= 16) {  // a flood: answer at once instead of queueing without bound
      outbox_.emplace_back("$iothub/methods/res/429/?$rid=" + rid,
                           Json{{"message", "Too many requests"}}.dump());
      return;
    }
    calls_.emplace_back(name, rid, m.payload);
    cv_.notify_all();
    return;
  }
  edge::log::debug("Ignoring a message on " + m.topic);
}

void HubConnection::method_worker() {
  for (;;) {
    std::tuple<std::string, std::string, std::string> call;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !calls_.empty(); });
      if (stop_) return;
      call = std::move(calls_.front());
      calls_.pop_front();
    }
    auto& [name, rid, payload] = call;
    MethodResult r =
        methods_ ? methods_(name, payload) : MethodResult{501, Json{{"message", "no methods"}}};
    {
      std::lock_guard lock(mu_);
      outbox_.emplace_back("$iothub/methods/res/" + std::to_string(r.status) + "/?$rid=" + rid,
                           r.payload ? r.payload->dump() : std::string());
    }
    wake();
  }
}

}  // namespace agent::upstream
