#include "edged/docker.h"

#include <cctype>

#include "common/base64.h"
#include "common/uri.h"

namespace edged::docker {
using edge::ErrorKind;
using edge::fail;
using edge::invalid;
using edge::http::ClientResponse;

namespace {
constexpr char kApi[] = "/v1.41";
constexpr auto kTimeout = std::chrono::minutes(10);  // pulls of large images take a while

std::string q(const std::string& s) { return edge::uri::percent_encode(s); }
}  // namespace

Result<ImageRef> parse_image(const std::string& image) {
  if (image.empty()) return invalid("image name is empty");
  for (unsigned char c : image)
    if (std::isspace(c) || c < 0x21) return invalid("invalid image name \"" + image + "\": contains whitespace or control characters");
  ImageRef ref;
  std::string rest = image;
  if (auto at = rest.find('@'); at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!ref.digest.starts_with("sha256:") || ref.digest.size() != 71)
      return invalid("invalid image name \"" + image + "\": malformed digest");
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (ref.tag.empty() || ref.tag.size() > 128) return invalid("invalid image name \"" + image + "\": malformed tag");
  } else if (ref.digest.empty()) {
    ref.tag = "latest";
  }
  if (rest.empty()) return invalid("invalid image name \"" + image + "\"");
  ref.repository = rest;
  auto first = rest.find('/');
  std::string head = first == std::string::npos ? "" : rest.substr(0, first);
  bool is_host = !head.empty() && (head.find('.') != std::string::npos ||
                                   head.find(':') != std::string::npos || head == "localhost");
  ref.registry = is_host ? head : "docker.io";
  std::string path = is_host ? rest.substr(first + 1) : rest;
  for (char c : path)
    if (std::isupper(static_cast<unsigned char>(c)))
      return invalid("invalid image name \"" + image + "\": repository name must be lowercase");
  if (path.empty()) return invalid("invalid image name \"" + image + "\"");
  return ref;
}

bool LogDemuxer::feed(std::string_view data, const std::function<void(const LogFrame&)>& out) {
  if (tty_) {
    if (!data.empty()) out(LogFrame{0, std::string(data)});
    return true;
  }
  pending_.append(data);
  size_t pos = 0;
  while (pending_.size() - pos >= 8) {
    auto b = [&](size_t i) { return static_cast<unsigned char>(pending_[pos + i]); };
    int stream = b(0);
    if (stream > 2 || b(1) || b(2) || b(3)) return false;
    size_t len = size_t{b(4)} << 24 | size_t{b(5)} << 16 | size_t{b(6)} << 8 | size_t{b(7)};
    if (pending_.size() - pos - 8 < len) break;
    out(LogFrame{stream, pending_.substr(pos + 8, len)});
    pos += 8 + len;
  }
  pending_.erase(0, pos);
  return true;
}

edge::Error engine_error(const ClientResponse& response, const std::string& what) {
  std::string message = what + ": " + response.message();
  switch (response.status) {
    case 400: return {ErrorKind::InvalidParameter, message};
    case 404: return {ErrorKind::NotFound, message};
    case 409: return {ErrorKind::Conflict, message};
    default: return {ErrorKind::Internal, message};
  }
}

Client::Client(std::string socket_path) : socket_path_(std::move(socket_path)) {}

Result<ClientResponse> Client::call(const std::string& method, const std::string& target,
                                    const std::optional<Json>& body,
                                    const edge::http::Headers& headers) {
  edge::http::UnixClient c(socket_path_, std::chrono::duration_cast<std::chrono::milliseconds>(kTimeout));
  auto r = c.request(method, kApi + target, body, headers);
  if (!r) {
    auto e = r.error();
    if (e.kind == ErrorKind::Unavailable || e.kind == ErrorKind::Timeout)
      return fail(ErrorKind::Unavailable, "the container engine at " + socket_path_ + " did not answer: " + e.message);
    return fail(e);
  }
  return r;
}

Result<Json> Client::version() {
  auto r = EDGE_TRY(call("GET", "/version"));
  if (r.status != 200) return fail(engine_error(r, "version"));
  return r.json();
}

Status Client::pull(const std::string& image, const std::optional<RegistryAuth>& auth) {
  auto ref = EDGE_TRY(parse_image(image));
  std::string target = std::string(kApi) + "/images/create?fromImage=" + q(ref.repository);
  target += "&tag=" + q(ref.digest.empty() ? ref.tag : ref.digest);
  edge::http::Headers headers;
  if (auth) {
    Json a{{"username", auth->username}, {"password", auth->password}, {"serveraddress", auth->server}};
    headers.emplace_back("X-Registry-Auth", edge::base64::encode_url(a.dump()));
  }
  edge::http::UnixClient c(socket_path_, std::chrono::duration_cast<std::chrono::milliseconds>(kTimeout));
  std::string line_buffer, stream_error;
  auto on_data = [&](std::string_view piece) {
    line_buffer.append(piece);
    size_t nl;
    while ((nl = line_buffer.find('\n')) != std::string::npos) {
      auto line = Json::parse(line_buffer.substr(0, nl), nullptr, false);
      line_buffer.erase(0, nl + 1);
      if (line.is_object() && line.contains("error") && stream_error.empty())
        stream_error = line["error"].is_string() ? line["error"].get<std::string>() : line["error"].dump();
    }
    return line_buffer.size() < 1024 * 1024;
  };
  auto r = c.stream("POST", target, "", "", headers, on_data, std::chrono::minutes(5));
  if (!r) return fail(ErrorKind::Unavailable, "could not pull " + image + ": " + r.error().message);
  if (r->status != 200) return fail(engine_error(*r, "could not pull " + image));
  if (!stream_error.empty()) return fail(ErrorKind::Internal, "could not pull " + image + ": " + stream_error);
  return {};
}

Result<Json> Client::inspect_image(const std::string& image) {
  auto r = EDGE_TRY(call("GET", "/images/" + q(image) + "/json"));
  if (r.status != 200) return fail(engine_error(r, "image " + image));
  return r.json();
}

Status Client::remove_image(const std::string& image, bool force) {
  auto r = EDGE_TRY(call("DELETE", "/images/" + q(image) + (force ? "?force=true&noprune=false" : "")));
  if (r.status != 200) return fail(engine_error(r, "could not remove image " + image));
  return {};
}

Result<std::vector<Json>> Client::list_images() {
  auto r = EDGE_TRY(call("GET", "/images/json"));
  if (r.status != 200) return fail(engine_error(r, "could not list images"));
  auto j = EDGE_TRY(r.json());
  return j.get<std::vector<Json>>();
}

Result<std::string> Client::create_container(const std::string& name, const Json& body) {
  auto r = EDGE_TRY(call("POST", "/containers/create?name=" + q(name), body));
  if (r.status != 201) return fail(engine_error(r, "could not create container " + name));
  auto j = EDGE_TRY(r.json());
  return j.value("Id", "");
}

Status Client::start(const std::string& id) {
  auto r = EDGE_TRY(call("POST", "/containers/" + q(id) + "/start"));
  if (r.status != 204 && r.status != 304) return fail(engine_error(r, "could not start " + id));
  return {};
}

Status Client::stop(const std::string& id, int timeout_seconds) {
  auto r = EDGE_TRY(call("POST", "/containers/" + q(id) + "/stop?t=" + std::to_string(timeout_seconds)));
  if (r.status != 204 && r.status != 304) return fail(engine_error(r, "could not stop " + id));
  return {};
}

Status Client::restart(const std::string& id, int timeout_seconds) {
  auto r = EDGE_TRY(call("POST", "/containers/" + q(id) + "/restart?t=" + std::to_string(timeout_seconds)));
  if (r.status != 204) return fail(engine_error(r, "could not restart " + id));
  return {};
}

Status Client::kill(const std::string& id, const std::string& signal) {
  auto r = EDGE_TRY(call("POST", "/containers/" + q(id) + "/kill?signal=" + q(signal)));
  if (r.status != 204) return fail(engine_error(r, "could not kill " + id));
  return {};
}

Status Client::remove_container(const std::string& id, bool force) {
  auto r = EDGE_TRY(call("DELETE", "/containers/" + q(id) + "?v=1&force=" + (force ? "1" : "0")));
  if (r.status != 204) return fail(engine_error(r, "could not remove " + id));
  return {};
}

Result<Json> Client::inspect_container(const std::string& id) {
  auto r = EDGE_TRY(call("GET", "/containers/" + q(id) + "/json"));
  if (r.status != 200) return fail(engine_error(r, "container " + id));
  return r.json();
}

Result<std::vector<Json>> Client::list_containers(const std::vector<std::string>& labels) {
  std::string target = "/containers/json?all=1";
  if (!labels.empty()) target += "&filters=" + q(Json{{"label", labels}}.dump());
  auto r = EDGE_TRY(call("GET", target));
  if (r.status != 200) return fail(engine_error(r, "could not list containers"));
  auto j = EDGE_TRY(r.json());
  return j.get<std::vector<Json>>();
}

Result<Json> Client::top(const std::string& id, const std::string& ps_args) {
  std::string target = "/containers/" + q(id) + "/top";
  if (!ps_args.empty()) target += "?ps_args=" + q(ps_args);
  auto r = EDGE_TRY(call("GET", target));
  if (r.status != 200) return fail(engine_error(r, "could not list processes of " + id));
  return r.json();
}

Result<Json> Client::stats(const std::string& id) {
  auto r = EDGE_TRY(call("GET", "/containers/" + q(id) + "/stats?stream=false"));
  if (r.status != 200) return fail(engine_error(r, "could not read stats of " + id));
  return r.json();
}

Status Client::logs_raw(const std::string& id, const LogOptions& o,
                        const std::function<bool(std::string_view)>& on_data) {
  std::string target = std::string(kApi) + "/containers/" + q(id) + "/logs?stdout=1&stderr=1";
  target += std::string("&follow=") + (o.follow ? "1" : "0");
  target += std::string("&timestamps=") + (o.timestamps ? "1" : "0");
  target += "&tail=" + q(o.tail);
  if (o.since) target += "&since=" + std::to_string(*o.since);
  if (o.until) target += "&until=" + std::to_string(*o.until);
  bool keep_going = true;
  edge::http::UnixClient c(socket_path_);
  auto r = c.stream("GET", target, "", "", {},
                    [&](std::string_view piece) { return keep_going = on_data(piece); },
                    o.follow ? std::chrono::hours(24 * 365) : std::chrono::minutes(1));
  if (!r) {
    if (!keep_going) return {};
    return fail(ErrorKind::Unavailable, "could not read logs of " + id + ": " + r.error().message);
  }
  if (r->status != 200) return fail(engine_error(*r, "could not read logs of " + id));
  return {};
}

Status Client::logs(const std::string& id, const LogOptions& o,
                    const std::function<bool(const LogFrame&)>& on_frame) {
  auto info = EDGE_TRY(inspect_container(id));
  bool tty = info.contains("Config") && info["Config"].value("Tty", false);
  LogDemuxer demux(tty);
  bool keep_going = true, malformed = false;
  EDGE_TRY_VOID(logs_raw(id, o, [&](std::string_view piece) {
    if (!demux.feed(piece, [&](const LogFrame& f) {
          if (keep_going) keep_going = on_frame(f);
        }))
      malformed = true;
    return keep_going && !malformed;
  }));
  if (malformed) return edge::internal("malformed log stream from the engine");
  return {};
}

Result<Json> Client::inspect_network(const std::string& name) {
  auto r = EDGE_TRY(call("GET", "/networks/" + q(name)));
  if (r.status != 200) return fail(engine_error(r, "network " + name));
  return r.json();
}

Result<std::vector<Json>> Client::list_networks(const Json& filters) {
  auto r = EDGE_TRY(call("GET", "/networks?filters=" + q(filters.dump())));
  if (r.status != 200) return fail(engine_error(r, "could not list networks"));
  auto j = EDGE_TRY(r.json());
  if (!j.is_array()) return edge::internal("could not list networks: unexpected answer");
  return j.get<std::vector<Json>>();
}

Result<std::string> Client::create_network(const Json& body) {
  auto r = EDGE_TRY(call("POST", "/networks/create", body));
  if (r.status != 201) return fail(engine_error(r, "could not create network"));
  auto j = EDGE_TRY(r.json());
  return j.value("Id", "");
}

Status Client::remove_network(const std::string& name) {
  auto r = EDGE_TRY(call("DELETE", "/networks/" + q(name)));
  if (r.status != 204) return fail(engine_error(r, "could not remove network " + name));
  return {};
}

Status Client::events(const Json& filters, const std::function<bool(const Json&)>& on_event,
                      std::chrono::milliseconds idle) {
  std::string target = std::string(kApi) + "/events?filters=" + q(filters.dump());
  std::string buffer;
  bool keep_going = true;
  edge::http::UnixClient c(socket_path_);
  auto r = c.stream("GET", target, "", "", {},
                    [&](std::string_view piece) {
                      buffer.append(piece);
                      size_t nl;
                      while (keep_going && (nl = buffer.find('\n')) != std::string::npos) {
                        auto e = Json::parse(buffer.substr(0, nl), nullptr, false);
                        buffer.erase(0, nl + 1);
                        if (e.is_object()) keep_going = on_event(e);
                      }
                      return keep_going && buffer.size() < 1024 * 1024;
                    },
                    idle);
  if (!r) {
    if (!keep_going) return {};
    return fail(r.error());
  }
  if (r->status != 200) return fail(engine_error(*r, "could not read engine events"));
  return {};
}

}  // namespace edged::docker
