// Internal to ringftpd_config: strict, typed reading of toml++ tables.
//
// Every accessor checks the type and range of one key and throws ConfigError
// with "file:line:column: <what is wrong>, expected <what>". A Section remembers
// which keys were asked for, so finish() can reject any other key and list the
// valid ones: a typo must fail loudly rather than silently fall back to a
// default (a bare value_or would hide it).
//
// toml++ stays out of config.hpp (it is linked PRIVATE); only config/*.cpp
// include this header.
#pragma once

#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringftpd::config::detail {

// Where messages say an error is, and what relative paths are relative to.
struct Context {
  std::string source;              // the file name shown in messages
  std::filesystem::path base_dir;  // directory of the file; empty = working directory

  // Throws "source:line:column: what, expected expected" (or "source: …" when
  // the region has no position, e.g. a value that took its default).
  [[noreturn]] void fail(const toml::source_region& where, std::string_view what,
                         std::string_view expected) const;
  [[noreturn]] void fail(const toml::node* where, std::string_view what,
                         std::string_view expected) const;
};

// One TOML spelling of an enum value.
template <typename E>
struct Spelling {
  std::string_view name;
  E value;
};

template <typename E, std::size_t N>
[[nodiscard]] std::string_view spelling_of(const Spelling<E> (&table)[N], E value) {
  for (const auto& s : table) {
    if (s.value == value) return s.name;
  }
  return "?";
}

// "\"a\", \"b\", \"c\"": the alternatives listed after "expected one of".
[[nodiscard]] std::string quoted_list(std::span<const std::string_view> names);

class Section {
 public:
  // node == nullptr: the table is absent and every key reads as unset.
  // A node that is not a table is a type error at that node.
  Section(const Context& ctx, const toml::node* node, std::string name);

  [[nodiscard]] bool is_present() const { return table_ != nullptr; }
  [[nodiscard]] const Context& context() const { return *ctx_; }
  [[nodiscard]] const toml::table* table() const { return table_; }

  // "tls.certificate", "listen[0].port", or "workers" at the top level.
  [[nodiscard]] std::string qualified(std::string_view key) const;

  // The raw node of a key (declaring the key valid); nullptr when absent.
  [[nodiscard]] const toml::node* get(std::string_view key);

  [[nodiscard]] std::optional<bool> boolean(std::string_view key);
  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key, std::int64_t min,
                                                    std::int64_t max);
  // Rejects NUL, which would silently truncate the value at the C API boundary.
  [[nodiscard]] std::optional<std::string> string(std::string_view key);
  // A string; relative values are resolved against the file's directory so a
  // reload after the master changed directory reads the same files.
  [[nodiscard]] std::optional<std::string> path(std::string_view key);
  // An array whose elements are all strings; each element keeps its node for errors.
  [[nodiscard]] std::optional<std::vector<std::pair<std::string, const toml::node*>>> strings(
      std::string_view key);
  // An array of tables ([[key]]); nullptr when absent.
  [[nodiscard]] const toml::array* array_of_tables(std::string_view key);
  [[nodiscard]] Section section(std::string_view key);

  template <typename E, std::size_t N>
  [[nodiscard]] std::optional<E> choice(std::string_view key, const Spelling<E> (&table)[N]) {
    auto text = string(key);
    if (!text) return std::nullopt;
    for (const auto& s : table) {
      if (s.name == *text) return s.value;
    }
    std::vector<std::string_view> names;
    for (const auto& s : table) names.push_back(s.name);
    fail(key, qualified(key) + " = \"" + *text + "\" is not valid", "one of " + quoted_list(names));
  }

  // Throws at the key's value (at the table when the key is absent).
  [[noreturn]] void fail(std::string_view key, std::string_view what,
                         std::string_view expected) const;

  // Rejects every key that no accessor asked for, listing the valid ones.
  void finish() const;

 private:
  const Context* ctx_;
  const toml::table* table_ = nullptr;
  const toml::node* node_ = nullptr;
  std::string name_;
  std::vector<std::string> known_;
};

// "string", "integer", "array of tables", … for "got <type>" messages.
[[nodiscard]] std::string_view type_name(const toml::node& node);

// Parses TOML text; a syntax error becomes "source:line:column: …".
[[nodiscard]] toml::table parse_document(std::string_view text, const std::string& source);

// Reads a whole file; failure is "path: cannot read: <strerror>".
[[nodiscard]] std::string read_text_file(const std::string& path);

// The directory relative paths in a file are resolved against.
[[nodiscard]] std::filesystem::path base_dir_of(std::string_view source_name);

// nullopt when the path is a readable regular file, otherwise why not.
[[nodiscard]] std::optional<std::string> why_not_readable_file(const std::string& path);
// nullopt when the path is an existing directory, otherwise why not.
[[nodiscard]] std::optional<std::string> why_not_directory(const std::string& path);

}  // namespace ringftpd::config::detail
