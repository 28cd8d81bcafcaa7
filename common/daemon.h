// What every daemon's main() shares: signal handling, serving a router, exit codes.
#pragma once
#include <string>

#include "common/http/router.h"
#include "common/http/server.h"

namespace edge::daemon {

// Upstream's "bad configuration, do not restart me" exit code.
constexpr int kExitBadConfig = 153;

// Process-wide set-up every daemon does first: few malloc arenas (one per thread would cost
// resident memory for little gain with our short handlers). Daemons that use OpenSSL also call
// edge::crypto::init().
void init_process();
// Blocks SIGTERM/SIGINT in all threads and stops `server` when one arrives.
void stop_on_signals(http::Server& server);
// Logs "Failed to <verb>: <error>" and returns the exit code for it.
int report(const std::string& what, const Error& error, int code = 1);
// Tells systemd we are ready when NOTIFY_SOCKET is set (Type=notify units).
void notify_ready();

}  // namespace edge::daemon
