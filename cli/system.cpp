#include "cli/system.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/fs.h"
#include "common/http/client.h"

namespace edge::cli {
namespace {

std::string tool(const char* env, const char* fallback) {
  const char* v = std::getenv(env);
  return v && *v ? v : fallback;
}

std::string systemctl() { return tool("EDGE_CLI_SYSTEMCTL", "systemctl"); }
std::string journalctl() { return tool("EDGE_CLI_JOURNALCTL", "journalctl"); }

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

// execvp's lookup done up front, so a missing tool is reported rather than run as exit 127.
bool in_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (::access(((dir.empty() ? "." : dir) + "/" + program).c_str(), X_OK) == 0) return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

void print_command_error(const std::string& out, const std::string& err, std::ostream& os) {
  os << std::flush;
  std::cerr << "systemctl exited with non-zero status code.\n"
            << "stdout:\n=======\n"
            << out << "stderr:\n=======\n"
            << err << "\n";
}

Status systemctl_verb(const std::string& verb, const std::string& unit, const char* doing,
                      const char* done, std::ostream& out) {
  out << doing << " " << unit << "..." << std::flush;
  std::string o, e;
  int rc = run_captured({systemctl(), verb, unit}, &o, &e);
  if (rc < 0) {
    out << "\n" << std::flush;
    return internal("Failed to call systemctl " + verb + ": " + systemctl() + " was not found");
  }
  if (rc == 0) {
    out << done << "\n";
  } else {
    print_command_error(o, e, out);
  }
  return {};
}

enum class State { Active, Inactive, Failed };
struct UnitState {
  State state;
  std::string detail;
};

Result<UnitState> unit_state(const std::string& unit) {
  std::string o, e;
  if (run_captured({systemctl(), "is-active", unit}, &o, &e) < 0)
    return internal("Failed to call systemctl is-active: " + systemctl() + " was not found");
  auto trim = [](std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    while (!s.empty() && (s.front() == '\n' || s.front() == ' ')) s.erase(s.begin());
    return s;
  };
  std::string state = trim(o);
  if (state == "active") return UnitState{State::Active, ""};
  if (state == "inactive") return UnitState{State::Inactive, ""};
  return UnitState{State::Failed, state + " " + trim(e)};
}

std::string service_display(const UnitState& s) {
  switch (s.state) {
    case State::Active:
      return "Running";
    case State::Inactive:
      return "Ready";
    default:
      return "Down - " + s.detail;
  }
}

std::string socket_display(const UnitState& s) {
  switch (s.state) {
    case State::Active:
      return "Running";
    case State::Inactive:
      return "Down - inactive";
    default:
      return "Down - " + s.detail;
  }
}

std::string strip_service(const std::string& name) {
  return name.ends_with(".service") ? name.substr(0, name.size() - 8) : name;
}

}  // namespace

std::vector<ServiceDefinition> identity_services() {
  return {{"aziot-identityd.service", {"aziot-identityd.socket"}},
          {"aziot-keyd.service", {"aziot-keyd.socket"}},
          {"aziot-certd.service", {"aziot-certd.socket"}},
          {"aziot-tpmd.service", {"aziot-tpmd.socket"}}};
}

std::vector<ServiceDefinition> iotedge_services() {
  std::vector<ServiceDefinition> list = {
      {"aziot-edged.service", {"aziot-edged.mgmt.socket", "aziot-edged.workload.socket"}}};
  for (auto& s : identity_services()) list.push_back(s);
  return list;
}

std::string root_prefix() {
  const char* v = std::getenv("EDGE_CLI_ROOT");
  return v ? v : "";
}

bool systemd_running() {
  struct stat st {};
  return ::lstat((root_prefix() + "/run/systemd/system").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

int run_captured(const std::vector<std::string>& argv, std::string* out, std::string* err) {
  if (argv.empty() || !in_path(argv[0])) return -1;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return -1;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return -1;
  }
  // Outputs of systemctl are small; read stdout then stderr.
  std::string o = read_all(out_pipe[0]);
  std::string e = read_all(err_pipe[0]);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out) *out = o;
  if (err) *err = e;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_inherited(const std::vector<std::string>& argv) {
  if (argv.empty() || !in_path(argv[0])) return -1;
  std::cout << std::flush;
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (pid < 0) return -1;
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Status system_stop(const std::vector<ServiceDefinition>& services, std::ostream& out) {
  for (const auto& s : services)
    EDGE_TRY_VOID(systemctl_verb("stop", s.service, "Stopping", "Stopped!", out));
  return {};
}

Status system_restart(const std::vector<ServiceDefinition>& services, std::ostream& out) {
  EDGE_TRY_VOID(system_stop(services, out));
  for (const auto& s : services)
    for (const auto& socket : s.sockets)
      EDGE_TRY_VOID(systemctl_verb("start", socket, "Starting", "Started!", out));
  return systemctl_verb("start", services.front().service, "Starting", "Started!", out);
}

Status system_status(const std::vector<ServiceDefinition>& services, const std::string& program,
                     std::ostream& out) {
  struct Row {
    const ServiceDefinition* def;
    UnitState state;
    std::vector<UnitState> sockets;
  };
  std::vector<Row> rows;
  for (const auto& s : services) {
    Row r{&s, EDGE_TRY(unit_state(s.service)), {}};
    for (const auto& socket : s.sockets) r.sockets.push_back(EDGE_TRY(unit_state(socket)));
    // A running service with a dead socket cannot be reached.
    if (r.state.state == State::Active)
      for (const auto& so : r.sockets)
        if (so.state != State::Active) r.state = {State::Failed, "socket error"};
    rows.push_back(std::move(r));
  }
  out << "System services:\n";
  for (const auto& r : rows) {
    std::string name = strip_service(r.def->service);
    if (name.size() < 24) name.resize(24, ' ');
    out << "    " << name << service_display(r.state) << "\n";
  }
  out << "\n";
  for (const auto& r : rows) {
    if (r.state.state != State::Failed) continue;
    out << strip_service(r.def->service) << " is in a bad state because:\n";
    out << r.def->service << ": " << service_display(r.state)
        << ": Printing the last 10 log lines.\n";
    run_inherited({journalctl(), "-u", r.def->service, "--no-pager", "-e", "-n", "10"});
    out << "\n";
    for (size_t i = 0; i < r.sockets.size(); ++i) {
      if (r.sockets[i].state == State::Active) continue;
      out << r.def->sockets[i] << ": " << socket_display(r.sockets[i])
          << ": Printing the last 10 log lines.\n";
      run_inherited({journalctl(), "-u", r.def->sockets[i], "--no-pager", "-e", "-n", "10"});
      out << "\n";
    }
  }
  out << "Use '" << program << " system logs' to check for non-fatal errors.\n";
  out << "Use '" << program << " check' to diagnose connectivity and configuration issues.\n";
  return {};
}

Status system_logs(const std::vector<ServiceDefinition>& services,
                   const std::vector<std::string>& journalctl_args) {
  std::vector<std::string> argv = {journalctl()};
  for (const auto& s : services) {
    argv.push_back("-u");
    argv.push_back(s.service);
  }
  if (journalctl_args.empty()) {
    argv.push_back("-e");
    argv.push_back("--no-pager");
  } else {
    argv.insert(argv.end(), journalctl_args.begin(), journalctl_args.end());
  }
  if (run_inherited(argv) < 0)
    return internal("Failed to spawn new process for getting logs: " + journalctl() +
                    " was not found");
  return {};
}

Status system_set_log_level(const std::vector<ServiceDefinition>& services,
                            const std::string& level, const std::string& program,
                            std::ostream& out) {
  std::string upper = level;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& s : services) {
    std::string dir = root_prefix() + "/etc/systemd/system/" + s.service + ".d";
    auto st = fs::ensure_dir(dir, 0755);
    if (st)
      st = fs::write_atomic(dir + "/log-level.conf", "[Service]\nEnvironment=AZIOT_LOG=" + upper,
                            0644);
    if (!st)
      return fail(
          st.error().context("could not write log level service override for " + s.service));
  }
  if (run_captured({systemctl(), "daemon-reload"}, nullptr, nullptr) < 0)
    return internal("could not run systemctl daemon-reload: " + systemctl() + " was not found");
  out << "Set log level to " << upper << " for all services. Run the `" << program
      << " system restart` command for the changes to take effect.\n";
  return {};
}

Status system_reprovision(std::ostream& out) {
  const char* sock = std::getenv("EDGE_CLI_IDENTITYD_SOCKET");
  http::UnixClient client(sock && *sock ? sock : "/run/aziot/identityd.sock");
  auto resp = client.request("POST", "/identities/device/reprovision?api-version=2020-09-01",
                             http::Json{{"type", "aziot"}});
  if (!resp) return fail(resp.error().context("Failed to reprovision"));
  if (resp->status / 100 != 2)
    return invalid("Failed to reprovision: " + std::to_string(resp->status) + " " +
                   resp->message());
  out << "Successfully reprovisioned with IoT Hub.\n";
  return system_restart({iotedge_services().front()}, out);
}

}  // namespace edge::cli
