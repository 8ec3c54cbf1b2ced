#include "tools/ftpsload/mlsd_reader.hpp"

namespace ringftpd::ftpsload {
namespace {

bool is_fact_name_char(char c) noexcept {
  return c > ' ' && c < 0x7F && c != '=' && c != ';';
}

// "name=value;name=value;" (the part before the space); empty is fine.
const char* facts_problem(std::string_view facts) noexcept {
  while (!facts.empty()) {
    const auto semi = facts.find(';');
    if (semi == std::string_view::npos) return "facts not ended by ';'";
    const std::string_view fact = facts.substr(0, semi);
    facts.remove_prefix(semi + 1);
    const auto eq = fact.find('=');
    if (eq == std::string_view::npos) return "fact without '='";
    if (eq == 0) return "fact without a name";
    for (const char c : fact.substr(0, eq)) {
      if (!is_fact_name_char(c)) return "bad character in a fact name";
    }
    // The value is anything up to ';' (no space: the first one ends the facts).
  }
  return nullptr;
}

}  // namespace

const char* mlsd_entry_problem(std::string_view line) noexcept {
  if (line.empty() || line.back() != '\r') return "line not ended by CRLF";
  line.remove_suffix(1);
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return "no space before the name";
  if (const char* p = facts_problem(line.substr(0, space))) return p;
  const std::string_view name = line.substr(space + 1);
  if (name.empty()) return "empty name";
  for (const char c : name) {
    if (c == '\0' || c == '\r') return "control character in the name";
  }
  return nullptr;
}

void MlsdReader::feed(std::string_view bytes) {
  while (ok() && !bytes.empty()) {
    const auto nl = bytes.find('\n');
    const std::string_view head = bytes.substr(0, nl);
    if (partial_.size() + head.size() > kMaxLineBytes) {
      problem_ = "line too long";
      return;
    }
    if (nl == std::string_view::npos) {
      partial_.append(head);
      return;
    }
    if (partial_.empty()) {
      line(head);  // the common case: a whole line in this piece, no copy
    } else {
      partial_.append(head);
      line(partial_);
      partial_.clear();
    }
    bytes.remove_prefix(nl + 1);
  }
}

bool MlsdReader::finish() {
  if (ok() && !partial_.empty()) problem_ = "listing ends inside a line";
  return ok();
}

void MlsdReader::line(std::string_view text) noexcept {
  problem_ = mlsd_entry_problem(text);
  if (ok()) ++entries_;
}

void MlsdReader::reset() noexcept {
  partial_.clear();
  entries_ = 0;
  problem_ = nullptr;
}

}  // namespace ringftpd::ftpsload
