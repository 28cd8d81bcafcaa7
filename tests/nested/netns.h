// Two network namespaces on one machine for a nested (parent/child) pair, torn down in the
// destructor even when the test fails:
//
//   root ns (dockerd) nst<N>r 10.77.N.5/30 ──veth── up0 10.77.N.6/30  parent ns
//   parent ns         down0   10.77.N.1/30 ──veth── up0 10.77.N.2/30  child ns
//
// plus a root-ns route 10.77.N.1/32 via the parent, so the machine's single Docker engine (which
// lives in the root namespace) reaches the parent at the same address the child does. N is
// claimed by creating /etc/docker/certs.d/10.77.N.1:5000 (mkdir is atomic), which keeps parallel
// runs apart and is where the engine's trust for the parent's registry goes; an `owner` file in
// it names this process for sweep_stale_runs().
#pragma once
#include <string>

namespace nested_test {

class NestedNet {
 public:
  NestedNet();
  ~NestedNet();
  NestedNet(const NestedNet&) = delete;
  NestedNet& operator=(const NestedNet&) = delete;

  int index() const { return index_; }
  std::string parent_ns() const { return parent_ns_; }
  std::string child_ns() const { return child_ns_; }
  std::string root_link() const { return root_link_; }
  std::string parent_ip() const { return prefix_ + ".1"; }  // as the child and dockerd see it
  std::string child_ip() const { return prefix_ + ".2"; }
  std::string root_ip() const { return prefix_ + ".5"; }  // dockerd's side
  // The engine's per-registry trust directory for <parent_ip>:5000 (created, empty).
  std::string docker_certs_dir() const { return certs_dir_; }
  // "ip netns exec <ns> " to put in front of a shell command.
  std::string in(const std::string& ns) const { return "ip netns exec " + ns + " "; }

 private:
  void setup();
  void teardown() noexcept;
  int index_ = 0;
  std::string prefix_, parent_ns_, child_ns_, root_link_, certs_dir_;
};

// The root of the engine's per-registry trust directories.
inline constexpr char kDockerCertsRoot[] = "/etc/docker/certs.d";

}  // namespace nested_test
