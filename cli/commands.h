// Entry points of the two command-line tools; main() only forwards argv here.
#pragma once
#include <string>
#include <vector>

namespace edge::cli {

int iotedge_main(std::vector<std::string> args);
int aziotctl_main(std::vector<std::string> args);

}  // namespace edge::cli
