#include "config/toml_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "config/config.hpp"

namespace ringftpd::config::detail {
namespace {

// A configuration file is a few kilobytes; the cap only stops a path such as
// /dev/zero from eating the master's memory.
constexpr std::size_t kMaxFileBytes = 16u << 20;

std::string range_text(std::int64_t min, std::int64_t max) {
  // "1..4294967295" would read as noise: the upper end is only the type's limit.
  if (max == std::numeric_limits<std::int64_t>::max() ||
      max == std::numeric_limits<std::uint32_t>::max()) {
    return "at least " + std::to_string(min);
  }
  return std::to_string(min) + ".." + std::to_string(max);
}

[[noreturn]] void throw_at(const std::string& source, const toml::source_position& pos,
                           std::string_view message) {
  std::string text = source;
  if (pos) text += ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
  text += ": ";
  text += message;
  throw ConfigError(text);
}

std::string errno_text(int err) {
  return std::strerror(err);
}

}  // namespace

void Context::fail(const toml::source_region& where, std::string_view what,
                   std::string_view expected) const {
  std::string message{what};
  message += ", expected ";
  message += expected;
  throw_at(source, where.begin, message);
}

void Context::fail(const toml::node* where, std::string_view what,
                   std::string_view expected) const {
  fail(where != nullptr ? where->source() : toml::source_region{}, what, expected);
}

std::string quoted_list(std::span<const std::string_view> names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += '"';
    out += n;
    out += '"';
  }
  return out;
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return node.is_array_of_tables() ? "array of tables" : "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Section::Section(const Context& ctx, const toml::node* node, std::string name)
    : ctx_(&ctx), node_(node), name_(std::move(name)) {
  if (node == nullptr) return;
  table_ = node->as_table();
  if (table_ == nullptr) {
    ctx.fail(node, name_ + " has the wrong type", "table, got " + std::string(type_name(*node)));
  }
}

std::string Section::qualified(std::string_view key) const {
  if (name_.empty()) return std::string(key);
  return name_ + "." + std::string(key);
}

const toml::node* Section::get(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  return table_ != nullptr ? table_->get(key) : nullptr;
}

std::optional<bool> Section::boolean(std::string_view key) {
  const toml::node* n = get(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_boolean()) {
    ctx_->fail(n, qualified(key) + " has the wrong type",
               "boolean, got " + std::string(type_name(*n)));
  }
  return n->as_boolean()->get();
}

std::optional<std::int64_t> Section::integer(std::string_view key, std::int64_t min,
                                             std::int64_t max) {
  const toml::node* n = get(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_integer()) {
    ctx_->fail(n, qualified(key) + " has the wrong type",
               "integer, got " + std::string(type_name(*n)));
  }
  const std::int64_t v = n->as_integer()->get();
  if (v < min || v > max) {
    ctx_->fail(n, qualified(key) + " = " + std::to_string(v) + " is out of range",
               range_text(min, max));
  }
  return v;
}

std::optional<std::string> Section::string(std::string_view key) {
  const toml::node* n = get(key);
  if (n == nullptr) return std::nullopt;
  if (!n->is_string()) {
    ctx_->fail(n, qualified(key) + " has the wrong type",
               "string, got " + std::string(type_name(*n)));
  }
  const std::string& v = n->as_string()->get();
  if (v.find('\0') != std::string::npos) {
    ctx_->fail(n, qualified(key) + " contains a NUL character", "text without NUL");
  }
  return v;
}

std::optional<std::string> Section::path(std::string_view key) {
  auto v = string(key);
  if (!v || v->empty()) return v;
  const std::filesystem::path p(*v);
  if (p.is_relative() && !ctx_->base_dir.empty()) return (ctx_->base_dir / p).string();
  return v;
}

std::optional<std::vector<std::pair<std::string, const toml::node*>>> Section::strings(
    std::string_view key) {
  const toml::node* n = get(key);
  if (n == nullptr) return std::nullopt;
  const toml::array* arr = n->as_array();
  if (arr == nullptr) {
    ctx_->fail(n, qualified(key) + " has the wrong type",
               "array of strings, got " + std::string(type_name(*n)));
  }
  std::vector<std::pair<std::string, const toml::node*>> out;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    if (!el.is_string()) {
      ctx_->fail(&el, qualified(key) + "[" + std::to_string(i) + "] has the wrong type",
                 "string, got " + std::string(type_name(el)));
    }
    out.emplace_back(el.as_string()->get(), &el);
  }
  return out;
}

const toml::array* Section::array_of_tables(std::string_view key) {
  const toml::node* n = get(key);
  if (n == nullptr) return nullptr;
  const toml::array* arr = n->as_array();
  // An empty array is let through so the caller can say "at least one".
  if (arr == nullptr || (!arr->empty() && !arr->is_array_of_tables())) {
    ctx_->fail(n, qualified(key) + " has the wrong type",
               "array of tables ([[" + std::string(key) + "]]), got " + std::string(type_name(*n)));
  }
  return arr;
}

Section Section::section(std::string_view key) {
  return Section(*ctx_, get(key), qualified(key));
}

void Section::fail(std::string_view key, std::string_view what, std::string_view expected) const {
  const toml::node* n = table_ != nullptr ? table_->get(key) : nullptr;
  ctx_->fail(n != nullptr ? n : node_, what, expected);
}

void Section::finish() const {
  if (table_ == nullptr) return;
  for (const auto& [key, value] : *table_) {
    if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
    std::string valid;
    for (const auto& k : known_) valid += (valid.empty() ? "" : ", ") + k;
    // "in [tls]" for a section, "in listen[0]" for an entry of an array of tables.
    const std::string where = name_.empty()                          ? "at the top level"
                              : name_.find('[') != std::string::npos ? "in " + name_
                                                                     : "in [" + name_ + "]";
    ctx_->fail(key.source(), "unknown key '" + std::string(key.str()) + "' " + where,
               "one of: " + valid);
  }
}

toml::table parse_document(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw_at(source, e.source().begin, "invalid TOML: " + std::string(e.description()));
  }
}

std::string read_text_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path + ": cannot read: " + errno_text(errno));
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw ConfigError(path + ": cannot read: " + errno_text(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {
      ::close(fd);
      throw ConfigError(path + ": cannot read: larger than 16 MiB");
    }
  }
  ::close(fd);
  return text;
}

std::filesystem::path base_dir_of(std::string_view source_name) {
  return std::filesystem::path(source_name).parent_path();
}

std::optional<std::string> why_not_readable_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_text(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_text(errno);
  ::close(fd);
  return std::nullopt;
}

std::optional<std::string> why_not_directory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno_text(errno);
  if (!S_ISDIR(st.st_mode)) return "not a directory";
  return std::nullopt;
}

}  // namespace ringftpd::config::detail
