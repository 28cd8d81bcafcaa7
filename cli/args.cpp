#include "cli/args.h"

namespace edge::cli {

std::optional<std::string> Args::option(const std::string& short_name,
                                        const std::string& long_name) {
  std::optional<std::string> value;
  for (size_t i = 0; i < args_.size();) {
    const std::string& a = args_[i];
    if (a == "--") break;
    if ((!short_name.empty() && a == short_name) || a == long_name) {
      if (i + 1 >= args_.size()) {
        error_ = "a value is required for '" + long_name + "' but none was supplied";
        args_.erase(args_.begin() + static_cast<long>(i));
        return std::nullopt;
      }
      value = args_[i + 1];
      args_.erase(args_.begin() + static_cast<long>(i), args_.begin() + static_cast<long>(i) + 2);
      continue;
    }
    if (a.starts_with(long_name + "=")) {
      value = a.substr(long_name.size() + 1);
      args_.erase(args_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  return value;
}

bool Args::flag(const std::string& short_name, const std::string& long_name) {
  bool found = false;
  for (size_t i = 0; i < args_.size();) {
    if (args_[i] == "--") break;
    if ((!short_name.empty() && args_[i] == short_name) || args_[i] == long_name) {
      found = true;
      args_.erase(args_.begin() + static_cast<long>(i));
      continue;
    }
    ++i;
  }
  return found;
}

std::vector<std::string> Args::passthrough() {
  for (size_t i = 0; i < args_.size(); ++i) {
    if (args_[i] == "--") {
      std::vector<std::string> rest(args_.begin() + static_cast<long>(i) + 1, args_.end());
      args_.resize(i);
      return rest;
    }
  }
  return {};
}

std::optional<std::string> Args::next_positional() {
  for (size_t i = 0; i < args_.size(); ++i) {
    if (args_[i] == "--") return std::nullopt;
    if (!args_[i].starts_with("-")) {
      std::string v = args_[i];
      args_.erase(args_.begin() + static_cast<long>(i));
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace edge::cli
