// Loads the TPM backend plugin next to the executable (see tpm_backend.h for why it is one).
#include <dlfcn.h>
#include <unistd.h>

#include <climits>

#include "common/hex.h"
#include "keyd/tpm_backend.h"

namespace keyd {

std::string tpm_key_file_path(const std::string& homedir, const std::string& id) {
  std::string clean;
  for (char c : id)
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) clean += c;
  return homedir + "/keys/" + clean + "-" + edge::crypto::hex(crypto::sha256(id)) + ".tpmkey";
}

namespace {
// The directory of the executable's real location (the plugin is never found through the
// environment: keyd would load whatever library it names).
edge::Result<std::string> exe_dir() {
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return edge::internal("could not find the aziot-keyd executable for the TPM plugin");
  std::string path(exe, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1);
}
}  // namespace

edge::Result<std::unique_ptr<Backend>> make_tpm_backend(const std::string& tcti,
                                                        const edge::Secret& owner_auth) {
  std::string dir = EDGE_TRY(exe_dir());
  std::string tried;
  for (const char* relative : kTpmPluginRelativePaths) {
    std::string path = dir + relative;
    if (::access(path.c_str(), F_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + path;
      continue;
    }
    void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib) return edge::internal(std::string("could not load the TPM backend: ") + ::dlerror());
    auto entry =
        reinterpret_cast<TpmBackendFactory (*)()>(::dlsym(lib, "keyd_tpm_backend_factory"));
    if (!entry)
      return edge::internal("the TPM backend " + path + " has no keyd_tpm_backend_factory");
    return entry()(tcti, owner_auth);
  }
  return edge::internal("could not load the TPM backend: no aziot-keyd-tpm.so at " + tried);
}

}  // namespace keyd
