// Leftovers of nested runs that were killed before their destructors ran (a ctest timeout, a
// signal): network namespaces, the root-side veth and the engine trust entry, and the
// containers, networks and image tags. Each carries its run's pid in its name (or an `owner`
// file) and is removed only when that process no longer exists, so parallel runs are safe.
#pragma once

namespace nested_test {

void sweep_stale_runs();

}  // namespace nested_test
