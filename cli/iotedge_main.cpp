#include "cli/commands.h"

int main(int argc, char** argv) { return edge::cli::iotedge_main({argv + 1, argv + argc}); }
