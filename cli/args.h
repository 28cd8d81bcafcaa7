// Minimal command-line parsing for the CLIs: options take "-c X", "--config-file X" or
// "--config-file=X"; anything after "--" is passed through untouched.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace edge::cli {

class Args {
 public:
  explicit Args(std::vector<std::string> args) : args_(std::move(args)) {}

  // Removes and returns the value of an option; error when the value is missing.
  std::optional<std::string> option(const std::string& short_name, const std::string& long_name);
  bool flag(const std::string& short_name, const std::string& long_name);
  // Everything after "--" (removed from the remaining args).
  std::vector<std::string> passthrough();
  std::optional<std::string> next_positional();
  const std::vector<std::string>& remaining() const { return args_; }
  bool empty() const { return args_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::vector<std::string> args_;
  std::string error_;
};

}  // namespace edge::cli
