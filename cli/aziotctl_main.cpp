#include "cli/commands.h"

int main(int argc, char** argv) { return edge::cli::aziotctl_main({argv + 1, argv + argc}); }
