// One JSON object on one line, for the JSON-lines log (json_log.hpp), built
// field by field and never longer than a cap, so the LineSink that writes it
// never has to cut it (a cut line would no longer be JSON).
//
// Strings are escaped for any input: quote, backslash and every control
// character become escapes (\n, \t, ..., \u00XX, and \u007f), so no byte a
// client chose can end the string or the line. Valid UTF-8 is kept as is,
// except U+2028/U+2029, escaped because JavaScript-based readers treat them
// as line ends. Every byte that is not part of a well-formed UTF-8 sequence
// (stray continuation, overlong form, surrogate, beyond U+10FFFF, cut
// sequence) becomes \ufffd: a shipper that rejects invalid UTF-8 (Vector,
// Elasticsearch) never drops the line.
//
// A string longer than its share of the cap ends in "..." inside the quotes,
// cut on a character boundary. Not thread-safe; no allocation beyond the
// line itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringftpd::server {

// Appends `text` as a JSON string (with its quotes) of at most `max_bytes`
// bytes (at least 5: `"..."`), cut with "..." if it would be longer.
// Returns false if it was cut.
bool append_json_string(std::string& out, std::string_view text, std::size_t max_bytes);

class JsonLine {
 public:
  // No single string value takes more than this (escaped, with quotes), so
  // one long field (a path) cannot crowd out the others.
  static constexpr std::size_t kMaxTextBytes = 1024;

  // `max_bytes` caps the whole line, "}\n" included (at least 16).
  explicit JsonLine(std::size_t max_bytes);

  // Each adds `"key":value`; a field that no longer fits is left out (a
  // string is first cut to what room there is). Keys are escaped too.
  void text(std::string_view key, std::string_view value);
  void number(std::string_view key, std::int64_t value);
  void boolean(std::string_view key, bool value);
  // Text already in JSON form (a number, true/false): not escaped.
  void raw(std::string_view key, std::string_view json);

  // The finished line, ending in "}\n"; the object is empty afterwards.
  [[nodiscard]] std::string finish();

 private:
  // Writes `,"key":` if that leaves at least `value_room` bytes for the
  // value and "}\n"; returns the room left for the value, 0 if it does not.
  std::size_t begin_field(std::string_view key, std::size_t value_room);

  std::string out_;
  std::size_t max_bytes_;
};

}  // namespace ringftpd::server
