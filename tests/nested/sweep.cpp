#include "tests/nested/sweep.h"

#include <signal.h>

#include <cerrno>
#include <filesystem>
#include <sstream>
#include <string>

#include "edged/docker.h"
#include "tests/nested/netns.h"
#include "tests/support/harness.h"

namespace nested_test {
namespace {
bool gone(const std::string& pid_text) {
  char* end = nullptr;
  long pid = std::strtol(pid_text.c_str(), &end, 10);
  if (pid_text.empty() || *end != '\0' || pid <= 1) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// The pid in "<prefix><pid>-...": the digits right after prefix.
std::string pid_after(const std::string& text, const std::string& prefix) {
  auto at = text.find(prefix);
  if (at == std::string::npos) return "";
  auto start = at + prefix.size(), stop = text.find('-', start);
  return text.substr(start, stop == std::string::npos ? std::string::npos : stop - start);
}

void sweep_network() {
  // Namespaces: edge-nested-{parent,child}-<N>-<pid>.
  std::string list;
  edge::test::run("ip netns list 2>/dev/null", &list);
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    std::string name = line.substr(0, line.find(' '));
    if (!name.starts_with("edge-nested-")) continue;
    if (gone(name.substr(name.rfind('-') + 1)))
      edge::test::run("ip netns del " + name + " 2>/dev/null");
  }
  // Trust entries 10.77.<N>.1:5000 (with the owner's pid) and the root link nst<N>r.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kDockerCertsRoot, ec)) {
    std::string dir = entry.path().filename();
    if (!dir.starts_with("10.77.") || !dir.ends_with(".1:5000")) continue;
    std::string owner = entry.path() / "owner";
    if (::access(owner.c_str(), F_OK) != 0 || !gone(edge::test::read_file(owner))) continue;
    std::string n = dir.substr(6, dir.find(".1:5000") - 6);
    edge::test::run("ip link del nst" + n + "r 2>/dev/null");
    std::filesystem::remove_all(entry.path(), ec);
  }
}

void sweep_engine() {
  edged::docker::Client docker;
  // Containers: label nested.test.scope=<pid>-<rand>-<role>.
  for (const auto& c :
       docker.list_containers({"nested.test.scope"}).value_or(std::vector<edge::http::Json>{})) {
    std::string scope = c["Labels"].value("nested.test.scope", "");
    if (gone(scope.substr(0, scope.find('-'))))
      (void)docker.remove_container(c.value("Id", ""), true);
  }
  // Networks nested-{parent,child}-net-<pid>-<rand>.
  auto networks = docker.list_networks(edge::http::Json{{"name", {"nested-"}}});
  for (const auto& n : networks.value_or(std::vector<edge::http::Json>{})) {
    std::string name = n.value("Name", "");  // the engine's name filter matches substrings
    bool ours = name.starts_with("nested-parent-net-") || name.starts_with("nested-child-net-");
    if (ours && gone(pid_after(name, "-net-"))) (void)docker.remove_network(name);
  }
  // Image tags 10.77.<N>.1:5000/nested-<pid>-<rand>/agent:<tag>.
  for (const auto& image : docker.list_images().value_or(std::vector<edge::http::Json>{})) {
    if (!image.contains("RepoTags") || !image["RepoTags"].is_array()) continue;
    for (const auto& tag : image["RepoTags"]) {
      std::string t = tag.get<std::string>();
      if (t.starts_with("10.77.") && gone(pid_after(t, ":5000/nested-")))
        (void)docker.remove_image(t);
    }
  }
}
}  // namespace

void sweep_stale_runs() {
  sweep_network();
  sweep_engine();
}

}  // namespace nested_test
