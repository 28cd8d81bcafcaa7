// aziot-identityd's HTTP API (api-versions 2020-09-01, 2021-12-01, 2022-08-01) and the
// [[principal]] authorization rules.
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>

#include "common/http/router.h"
#include "identityd/identity.h"

namespace identityd {

enum class CallerKind { LocalRoot, Daemon, HostProcess, Unknown };
struct Caller {
  CallerKind kind = CallerKind::Unknown;
  const Principal* principal = nullptr;
};
Caller authenticate(const Config& config, uid_t uid);

enum class Operation {
  GetDevice,
  GetModule,
  ListModules,
  CreateModule,
  UpdateModule,
  DeleteModule,
  Reprovision,
  TrustBundle
};
// Upstream's authorization table; `module` is the target of GetModule.
bool authorize(const Caller& caller, Operation op, const std::string& module = "");

class Service {
 public:
  explicit Service(IdentityManager& manager);
  edge::http::Response handle(edge::http::Request& request) { return router_.dispatch(request); }

 private:
  void add_routes();
  Status require(const edge::http::Request& req, Operation op, const std::string& module = "");
  IdentityManager& manager_;
  edge::http::Router router_;
};

}  // namespace identityd
