// A byte buffer for key material, PINs and passwords: zeroed on destruction, never printed.
#pragma once
#include <string.h>  // explicit_bzero: the wipe is not optimised away

#include <string>
#include <string_view>

namespace edge {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string bytes) : bytes_(std::move(bytes)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  Secret(Secret&& o) noexcept : bytes_(std::move(o.bytes_)) { o.wipe(); }
  Secret& operator=(Secret&& o) noexcept {
    wipe();
    bytes_ = std::move(o.bytes_);
    o.wipe();
    return *this;
  }
  ~Secret() { wipe(); }

  std::string_view view() const { return bytes_; }
  const unsigned char* data() const { return reinterpret_cast<const unsigned char*>(bytes_.data()); }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }

 private:
  void wipe() {
    if (!bytes_.empty()) ::explicit_bzero(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  std::string bytes_;
};

}  // namespace edge
