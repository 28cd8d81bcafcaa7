#include "cli/commands.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/apply_command.h"
#include "cli/args.h"
#include "cli/bundle/support_bundle.h"
#include "cli/check/checks.h"
#include "cli/import.h"
#include "cli/modules.h"
#include "cli/system.h"

#ifndef EDGE_VERSION
#define EDGE_VERSION "1.5.0"
#endif

namespace edge::cli {
namespace {

int usage_error(const std::string& program, const std::string& message) {
  std::cerr << "error: " << message << "\n\nFor more information, try '" << program
            << " --help'.\n";
  return 2;
}

int leftover(const std::string& program, const Args& args) {
  if (!args.error().empty()) return usage_error(program, args.error());
  if (!args.empty())
    return usage_error(program, "unexpected argument '" + args.remaining().front() + "' found");
  return 0;
}

int system_failed(const Status& st) {
  std::cerr << st.error().message << "\nError running system command\n";
  return 1;
}

const char* kIotedgeHelp = R"(iotedge 
Azure IoT Edge command-line interface

Usage: iotedge [OPTIONS] <COMMAND>

Commands:
  check           Check for common config and deployment issues
  check-list      List the checks that are run for 'iotedge check'
  config          Manage Azure IoT Edge system configuration.
  list            List modules
  logs            Fetch the logs of a module
  restart         Restart a module
  support-bundle  Bundles troubleshooting information
  system          Manage system services for IoT Edge.
  version         Show the version information

Options:
  -H, --host <HOST>  Daemon socket to connect to [env: IOTEDGE_HOST=] [default: unix:///var/run/iotedge/mgmt.sock]
  -h, --help         Print help
  -V, --version      Print version
)";

// One-line usage of each subcommand, printed for -h/--help.
std::string usage(const std::string& program, const std::string& command) {
  static const std::map<std::string, std::string> usages = {
      {"config apply",
       "config apply [-c|--config-file FILE] [--output-dir DIR]\n\n"
       "Apply the system configuration (default FILE: /etc/aziot/config.toml).\n"
       "--output-dir writes the service configs into DIR instead and changes nothing else."},
      {"config import",
       "config import [-c|--config-file FILE] [-o|--out-config-file FILE] [-f|--force]\n\n"
       "Import a pre-1.2 /etc/iotedge/config.yaml into /etc/aziot/config.toml."},
      {"config mp",
       "config mp -c|--connection-string CONNECTION_STRING [-o|--out-config-file FILE] "
       "[-f|--force]\n\nQuick-create a configuration for manual provisioning."},
      {"system",
       "system <logs [-- JOURNALCTL ARGS]|restart|stop|status|set-log-level LEVEL|reprovision>"},
      {"config", "config <apply|import|mp>"},
  };
  auto it = usages.find(command);
  return "Usage: " + program + " " + (it == usages.end() ? command : it->second) + "\n";
}

int config_command(const std::string& program, Flavor flavor, Args& args) {
  auto sub = args.next_positional();
  if (args.flag("-h", "--help")) {
    std::cout << usage(program, sub ? "config " + *sub : "config");
    return 0;
  }
  if (!sub) return usage_error(program, "'" + program + " config' requires a subcommand");
  if (*sub == "apply") {
    ApplyOptions o;
    o.flavor = flavor;
    o.config_file = args.option("-c", "--config-file").value_or("");
    o.output_dir = args.option("", "--output-dir");
    if (int rc = leftover(program, args)) return rc;
    return run_config_apply(o, std::cout, std::cerr);
  }
  if (*sub == "mp") {
    auto cs = args.option("-c", "--connection-string");
    auto out =
        args.option("-o", "--out-config-file").value_or(root_prefix() + "/etc/aziot/config.toml");
    bool force = args.flag("-f", "--force");
    if (int rc = leftover(program, args)) return rc;
    if (!cs)
      return usage_error(program,
                         "the following required arguments were not provided:\n  "
                         "--connection-string <CONNECTION_STRING>");
    return run_config_mp(flavor, *cs, out, force, std::cout, std::cerr);
  }
  if (*sub == "import" && flavor == Flavor::Iotedge) {
    auto in =
        args.option("-c", "--config-file").value_or(root_prefix() + "/etc/iotedge/config.yaml");
    auto out =
        args.option("-o", "--out-config-file").value_or(root_prefix() + "/etc/aziot/config.toml");
    bool force = args.flag("-f", "--force");
    if (int rc = leftover(program, args)) return rc;
    return run_config_import(in, out, force, std::cout, std::cerr);
  }
  return usage_error(program, "unrecognized subcommand '" + *sub + "'");
}

int system_command(const std::string& program, const std::vector<ServiceDefinition>& services,
                   bool iotedge, Args& args) {
  auto passthrough = args.passthrough();
  auto sub = args.next_positional();
  if (args.flag("-h", "--help")) {
    std::cout << usage(program, "system");
    return 0;
  }
  if (!sub) return usage_error(program, "'" + program + " system' requires a subcommand");
  Status st;
  if (*sub == "logs") {
    if (int rc = leftover(program, args)) return rc;
    st = system_logs(services, passthrough);
  } else if (*sub == "restart") {
    if (int rc = leftover(program, args)) return rc;
    st = system_restart(services, std::cout);
  } else if (*sub == "stop") {
    if (int rc = leftover(program, args)) return rc;
    st = system_stop(services, std::cout);
  } else if (*sub == "status") {
    if (int rc = leftover(program, args)) return rc;
    st = system_status(services, program, std::cout);
  } else if (*sub == "set-log-level") {
    auto level = args.next_positional();
    if (int rc = leftover(program, args)) return rc;
    static const std::vector<std::string> levels = {"error", "warn", "info", "debug", "trace"};
    if (!level)
      return usage_error(program,
                         "the following required arguments were not provided:\n  <log_level>");
    if (std::find(levels.begin(), levels.end(), *level) == levels.end())
      return usage_error(
          program, "invalid value '" + *level +
                       "' for '<log_level>'\n  [possible values: error, warn, info, debug, trace]");
    st = system_set_log_level(services, *level, program, std::cout);
  } else if (*sub == "reprovision" && iotedge) {
    if (int rc = leftover(program, args)) return rc;
    st = system_reprovision(std::cout);
  } else {
    return usage_error(program, "unrecognized subcommand '" + *sub + "'");
  }
  return st ? 0 : system_failed(st);
}

}  // namespace

int iotedge_main(std::vector<std::string> argv) {
  Args args(std::move(argv));
  auto host_option = args.option("-H", "--host");
  const char* host_env = std::getenv("IOTEDGE_HOST");
  std::string host = host_option ? *host_option : host_env && *host_env ? host_env : kDefaultManagementUri;
  const std::string first = args.empty() ? "" : args.remaining().front();
  if (first == "-V" || first == "--version") {
    std::cout << "iotedge " << EDGE_VERSION << "\n";
    return 0;
  }
  if (args.empty() || first == "-h" || first == "--help") {
    std::cout << kIotedgeHelp;
    return args.empty() ? 2 : 0;
  }
  auto command = args.next_positional();
  if (!command)
    return usage_error("iotedge", "unexpected argument '" + args.remaining().front() + "' found");
  if (*command == "version") {
    if (int rc = leftover("iotedge", args)) return rc;
    std::cout << "iotedge " << EDGE_VERSION << "\n";
    return 0;
  }
  if (*command == "check") return check::check_command(true, args.remaining());
  if (*command == "check-list") return check::check_list_command(true);
  if (*command == "support-bundle") return bundle::support_bundle_command(host, args.remaining());
  if (*command == "config") return config_command("iotedge", Flavor::Iotedge, args);
  if (*command == "system") return system_command("iotedge", iotedge_services(), true, args);
  if (*command == "list") return list_command(host, args);
  if (*command == "logs") return logs_command(host, args);
  if (*command == "restart") return restart_command(host, args);
  return usage_error("iotedge", "unrecognized subcommand '" + *command + "'");
}

int aziotctl_main(std::vector<std::string> argv) {
  Args args(std::move(argv));
  const std::string first = args.empty() ? "" : args.remaining().front();
  if (first == "-V" || first == "--version") {
    std::cout << "aziotctl " << EDGE_VERSION << "\n";
    return 0;
  }
  if (args.empty() || first == "-h" || first == "--help") {
    std::cout << "Usage: aziotctl <COMMAND>\n\nCommands:\n  config  Manage the Identity Service "
                 "configuration\n  system  Manage the Identity Service system services\n";
    return args.empty() ? 2 : 0;
  }
  auto command = args.next_positional();
  if (!command)
    return usage_error("aziotctl", "unexpected argument '" + args.remaining().front() + "' found");
  if (*command == "check") return check::check_command(false, args.remaining());
  if (*command == "check-list") return check::check_list_command(false);
  if (*command == "config") return config_command("aziotctl", Flavor::Aziotctl, args);
  if (*command == "system") return system_command("aziotctl", identity_services(), false, args);
  return usage_error("aziotctl", "unrecognized subcommand '" + *command + "'");
}

}  // namespace edge::cli
