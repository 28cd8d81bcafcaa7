#include "tests/nested/netns.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "tests/support/harness.h"

namespace nested_test {
namespace {
void must(const std::string& command) {
  std::string out;
  if (edge::test::run(command + " 2>&1", &out) != 0)
    throw std::runtime_error("nested net setup: `" + command + "` failed: " + out);
}
}  // namespace

NestedNet::NestedNet() {
  ::mkdir("/etc/docker", 0755);
  ::mkdir(kDockerCertsRoot, 0755);
  // Claim a free N: the first mkdir that succeeds owns 10.77.N.0/29 for this run.
  int start = static_cast<int>(::getpid() % 250);
  for (int i = 0; i < 250 && index_ == 0; ++i) {
    int n = (start + i) % 250 + 1;
    std::string dir = std::string(kDockerCertsRoot) + "/10.77." + std::to_string(n) + ".1:5000";
    if (::mkdir(dir.c_str(), 0755) == 0) {
      index_ = n;
      certs_dir_ = dir;
      // For the sweep of killed runs (the engine reads only *.crt/*.cert/*.key here).
      edge::test::write_file(dir + "/owner", std::to_string(::getpid()));
    } else if (errno != EEXIST) {
      throw std::runtime_error("nested net setup: cannot create " + dir);
    }
  }
  if (index_ == 0) throw std::runtime_error("nested net setup: no free 10.77.N.0/29 left");
  std::string id = std::to_string(index_) + "-" + std::to_string(::getpid());
  prefix_ = "10.77." + std::to_string(index_);
  parent_ns_ = "edge-nested-parent-" + id;
  child_ns_ = "edge-nested-child-" + id;
  root_link_ = "nst" + std::to_string(index_) + "r";  // IFNAMSIZ: at most 15 characters
  try {
    setup();
  } catch (...) {
    teardown();
    throw;
  }
}

NestedNet::~NestedNet() { teardown(); }

void NestedNet::setup() {
  must("ip netns add " + parent_ns_);
  must("ip netns add " + child_ns_);
  for (const auto& ns : {parent_ns_, child_ns_}) must("ip -n " + ns + " link set lo up");
  // root <-> parent
  must("ip link add " + root_link_ + " type veth peer name up0 netns " + parent_ns_);
  must("ip addr add " + root_ip() + "/30 dev " + root_link_);
  must("ip link set " + root_link_ + " up");
  must("ip -n " + parent_ns_ + " addr add " + prefix_ + ".6/30 dev up0");
  must("ip -n " + parent_ns_ + " link set up0 up");
  // parent <-> child
  must("ip -n " + parent_ns_ + " link add down0 type veth peer name up0 netns " + child_ns_);
  must("ip -n " + parent_ns_ + " addr add " + parent_ip() + "/30 dev down0");
  must("ip -n " + parent_ns_ + " link set down0 up");
  must("ip -n " + child_ns_ + " addr add " + child_ip() + "/30 dev up0");
  must("ip -n " + child_ns_ + " link set up0 up");
  // dockerd (root ns) reaches the parent's child-facing address through the parent's uplink.
  must("ip route add " + parent_ip() + "/32 via " + prefix_ + ".6 dev " + root_link_);
}

void NestedNet::teardown() noexcept {
  // Deleting one end of a veth deletes its peer and the routes through it.
  if (!root_link_.empty()) edge::test::run("ip link del " + root_link_ + " 2>/dev/null");
  for (const auto& ns : {child_ns_, parent_ns_})
    if (!ns.empty()) edge::test::run("ip netns del " + ns + " 2>/dev/null");
  if (!certs_dir_.empty()) edge::test::run("rm -rf '" + certs_dir_ + "'");
}

}  // namespace nested_test
