// Starts the built aziot-keyd and aziot-identityd in a temp dir and calls identityd as any uid.
#pragma once
#include <memory>
#include <string>

#include "common/http/client.h"
#include "tests/support/harness.h"

namespace identityd_test {

constexpr const char* kApi = "2022-08-01";
std::string api(const std::string& path, const std::string& version = kApi);

// The default principals: 1001 daemon (aziot-edged), 1002 module host process (mod1),
// 1003 device host process (devagent), 1004 local (locagent); unknown = 4242.
std::string default_principals();
// A manual-sas provisioning section for a hub that does not answer (offline).
std::string manual_sas(const std::string& hub = "127.255.255.254", const std::string& extra = "");

struct Daemons {
  // `config` is identityd's config without hostname/homedir/[endpoints] (added here).
  explicit Daemons(std::string config, bool start_identityd = true, std::string keyd_extra = "",
                   std::optional<std::string> certd_config = std::nullopt);
  ~Daemons();
  void start_identityd();
  // Starts identityd expecting it to exit; returns its exit code.
  int start_identityd_expect_exit();
  void stop_identityd();
  std::string identityd_log() const { return edge::test::read_file(dir / "identityd.log"); }

  edge::test::Reply call(const std::string& method, const std::string& path,
                         const std::optional<edge::http::Json>& body = std::nullopt);
  edge::test::Reply call_as(uid_t uid, const std::string& method, const std::string& path,
                            const std::optional<edge::http::Json>& body = std::nullopt);
  edge::test::Reply keyd(const std::string& method, const std::string& path,
                         const std::optional<edge::http::Json>& body = std::nullopt);
  std::string import_key(const std::string& id, const std::string& bytes);
  std::string hmac_with_handle(const std::string& handle, const std::string& message);
  std::string key_file_bytes(const std::string& id) const;  // a keyd filesystem key's raw bytes

  edge::test::TempDir dir;
  std::string config;
  std::string keyd_socket = dir / "keyd.sock";
  std::string identityd_socket = dir / "identityd.sock";
  std::string tpmd_socket = dir / "tpmd.sock";  // [endpoints] aziot_tpmd (tests start tpmd there)
  std::string homedir = dir / "identityd-home";
  std::map<std::string, std::string> env;
  std::unique_ptr<edge::test::Process> keyd_process;
  std::unique_ptr<edge::test::Process> identityd_process;
  std::unique_ptr<edge::test::Process> certd_process;
};

// The certd program: AZIOT_CERTD_BIN, else build/bin/aziot-certd; empty when not built.
std::string certd_bin();

}  // namespace identityd_test
