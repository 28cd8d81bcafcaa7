#include "cli/check/framework.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <sstream>

namespace edge::cli::check {
namespace {

// Upstream colours text only on a terminal; green / yellow / red.
class Printer {
 public:
  Printer(std::ostream& out, bool text)
      : out_(out), text_(text), color_(text && &out == &std::cout && ::isatty(1)) {}
  bool text() const { return text_; }
  void write(const char* color, const std::string& s) {
    if (!text_) return;
    if (color_) out_ << color << s << "\x1b[0m";
    else out_ << s;
  }
  static constexpr const char* kGreen = "\x1b[32m";
  static constexpr const char* kYellow = "\x1b[33m";
  static constexpr const char* kRed = "\x1b[31m";

 private:
  std::ostream& out_;
  bool text_;
  bool color_;
};

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.empty()) lines.emplace_back();
  return lines;
}

std::string indent_lines(const std::string& first, const std::string& other, const std::string& s) {
  std::string r;
  bool is_first = true;
  for (const auto& line : lines_of(s)) {
    r += (is_first ? first : other) + line + "\n";
    is_first = false;
  }
  return r;
}

// The message and (with --verbose) every link of the chain, as upstream's iotedge prints them.
std::string describe(const std::vector<std::string>& chain, bool verbose) {
  if (chain.empty()) return "";
  std::string r = indent_lines("    ", "    ", chain.front());
  if (verbose)
    for (const auto& cause : chain) r += indent_lines("        caused by: ", "                   ", cause);
  return r;
}

Json result_json(const char* result, const std::vector<std::string>* details) {
  Json r{{"result", result}};
  if (details) r["details"] = *details;
  return r;
}

}  // namespace

int run_checks(Context& ctx, std::vector<Section>& sections, std::ostream& out,
               const std::function<Json(const Context&)>& top_info) {
  const bool verbose = ctx.options.verbose;
  Printer p(out, !ctx.options.json);
  Json checks = Json::object();
  size_t ok = 0, warnings = 0, skipped = 0, errors = 0;
  bool fatal = false;

  for (auto& section : sections) {
    if (fatal) break;
    p.write("", "\n" + section.name + "\n" + std::string(section.name.size(), '-') + "\n");
    for (auto& c : section.checks) {
      Json info = Json::object();
      Outcome o = ctx.options.dont_run.contains(c.id) ? Outcome::ignored() : c.run(ctx, info);
      if (o.kind == Kind::Warning && ctx.options.warnings_as_errors) o.kind = Kind::Failed;
      Json entry;
      switch (o.kind) {
        case Kind::Ok:
          ++ok;
          entry = result_json("ok", nullptr);
          p.write(Printer::kGreen, "\u221a " + c.description + " - OK\n");
          break;
        case Kind::Warning:
          ++warnings;
          entry = result_json("warning", &o.details);
          p.write(Printer::kYellow,
                  "\u203c " + c.description + " - Warning\n" + describe(o.details, verbose));
          break;
        case Kind::Ignored:
          entry = result_json("ignored", nullptr);
          break;
        case Kind::Skipped:
          ++skipped;
          entry = result_json("skipped", nullptr);
          if (verbose)
            p.write(Printer::kYellow, "\u203c " + c.description +
                                          " - Warning\n    skipping because of previous failures\n");
          break;
        case Kind::SkippedDueTo:
          ++skipped;
          entry = result_json("skipped", nullptr);
          if (verbose)
            p.write(Printer::kGreen, "\u221a " + c.description + " - OK\n    skipping because of " +
                                         (o.details.empty() ? "" : o.details.front()) + "\n");
          break;
        case Kind::Failed:
        case Kind::Fatal:
          ++errors;
          entry = result_json(o.kind == Kind::Fatal ? "fatal" : "error", &o.details);
          p.write(Printer::kRed,
                  "\u00d7 " + c.description + " - Error\n" + describe(o.details, verbose));
          break;
      }
      Json record{{"result", entry}, {"additional_info", info.empty() ? Json::object() : info}};
      checks[c.id] = std::move(record);
      if (o.kind == Kind::Fatal) {
        fatal = true;
        break;
      }
    }
  }

  const std::string rerun = verbose ? "\n" : " Re-run with --verbose for more details.\n";
  p.write("", "\n");
  p.write(Printer::kGreen, std::to_string(ok) + " check(s) succeeded.\n");
  if (warnings) p.write(Printer::kYellow, std::to_string(warnings) + " check(s) raised warnings." + rerun);
  if (errors) p.write(Printer::kRed, std::to_string(errors) + " check(s) raised errors." + rerun);
  if (skipped)
    p.write(Printer::kYellow, std::to_string(skipped) +
                                  " check(s) were skipped due to errors from other checks." + rerun);
  if (!p.text()) out << Json{{"additional_info", top_info(ctx)}, {"checks", checks}}.dump() << "\n";
  out.flush();
  return errors > 0 ? 1 : 0;
}

void print_list(const std::vector<Section>& sections, std::ostream& out) {
  size_t section_width = std::string("CATEGORY").size(), id_width = 2;
  for (const auto& s : sections) {
    section_width = std::max(section_width, s.name.size());
    for (const auto& c : s.checks) id_width = std::max(id_width, c.id.size());
  }
  auto pad = [](const std::string& s, size_t w) { return s + std::string(w + 1 - s.size(), ' '); };
  out << pad("CATEGORY", section_width) << pad("ID", id_width) << "DESCRIPTION\n\n";
  for (const auto& s : sections) {
    for (const auto& c : s.checks) out << pad(s.name, section_width) << pad(c.id, id_width) << c.description << "\n";
    out << "\n";
  }
}

}  // namespace edge::cli::check
