// Where the last good deployment is kept (under StorageFolder) so the agent can roll back to it
// and start from it when no source answers. Behind an interface: encrypted through the workload
// API when edged serves it (as upstream's backup.json), else a plain file.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace agent {

class DeploymentStore {
 public:
  virtual ~DeploymentStore() = default;
  // The saved text, nullopt when nothing was saved (or it can no longer be read back).
  virtual std::optional<std::string> load() = 0;
  virtual edge::Status save(const std::string& text) = 0;
  virtual const char* kind() const = 0;
};

// UNENCRYPTED fallback: the deployment (which may hold registry passwords) in a 0600 file.
// Used only when the workload API does not answer.
class PlainFileStore : public DeploymentStore {
 public:
  explicit PlainFileStore(std::string path) : path_(std::move(path)) {}
  std::optional<std::string> load() override;
  edge::Status save(const std::string& text) override;
  const char* kind() const override { return "plain file"; }

 private:
  std::string path_;
};

struct WorkloadIdentity {
  std::string socket;  // path of workload.sock
  std::string module_id = "$edgeAgent";
  std::string generation_id;  // IOTEDGE_MODULEGENERATIONID
  std::string api_version = "2022-08-03";
};

// base64 ciphertext from the workload API's encrypt/decrypt, with the initialization vector
// kept in `iv_path` (created on first use, as upstream's IOTEDGE_BACKUP_IV).
class WorkloadEncryptedStore : public DeploymentStore {
 public:
  WorkloadEncryptedStore(WorkloadIdentity id, std::string path, std::string iv_path)
      : id_(std::move(id)), path_(std::move(path)), iv_path_(std::move(iv_path)) {}
  std::optional<std::string> load() override;
  edge::Status save(const std::string& text) override;
  const char* kind() const override { return "workload-encrypted file"; }
  edge::Result<std::string> encrypt(const std::string& plaintext);
  edge::Result<std::string> decrypt(const std::string& ciphertext_b64);

 private:
  edge::Result<std::string> iv();
  edge::Result<std::string> call(const char* op, const char* in_field, const std::string& value,
                                 const char* out_field);

  WorkloadIdentity id_;
  std::string path_, iv_path_;
};

// The workload-encrypted store when IOTEDGE_WORKLOADURI (a unix socket) answers an encrypt
// call, else the plain file; files live in `storage_dir`.
std::unique_ptr<DeploymentStore> make_deployment_store(const std::string& storage_dir);

}  // namespace agent
