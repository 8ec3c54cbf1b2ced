// libFuzzer target for the pure FTP protocol core (server/ftp/).
//
// The first input bytes choose the line limit and the chunking; the rest is the client's
// byte stream. It is fed to two LineSplitters, one in fuzzer-chosen chunks and one all at
// once, which must agree line for line. Every line goes through parse() and every
// argument parser, and is echoed into a reply. Invariants are checked with CHECK(),
// which aborts so the fuzzer records the input.
//
//   clang++ -std=c++20 -fsanitize=fuzzer,address -I. tests/fuzz/ftp_parser_fuzz.cpp \
//       server/ftp/*.cpp -o /tmp/ftpfuzz && /tmp/ftpfuzz -max_total_time=20
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/ftp/command.hpp"
#include "server/ftp/host_port.hpp"
#include "server/ftp/line_splitter.hpp"
#include "server/ftp/reply.hpp"
#include "server/ftp/timeval.hpp"
#include "server/ftp/verb_table.hpp"

namespace {

using namespace ringftpd::server::ftp;

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)

constexpr std::string_view kTooLong = "\x01<TooLong>";

bool is_within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// Drains `s`, checking the splitter's invariants, and records what it returned.
void drain(LineSplitter& s, std::vector<std::string>& out) {
  CHECK(s.buffered_bytes() <= s.max_line_bytes());
  for (auto r = s.next(); r.kind != LineSplitter::Kind::NeedMore; r = s.next()) {
    if (r.kind == LineSplitter::Kind::TooLong) {
      CHECK(r.line.empty());
      out.emplace_back(kTooLong);
      continue;
    }
    CHECK(r.line.find('\n') == std::string_view::npos);
    CHECK(r.line.size() + 1 <= s.max_line_bytes());  // the terminator fits too
    out.emplace_back(r.line);
  }
}

void check_wire(const Reply& reply) {
  const std::string wire = to_wire(reply);
  CHECK(wire.size() >= 6 && wire.compare(wire.size() - 2, 2, "\r\n") == 0);
  // Every CR is followed by LF and every LF preceded by CR.
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] == '\r') CHECK(i + 1 < wire.size() && wire[i + 1] == '\n');
    if (wire[i] == '\n') CHECK(i > 0 && wire[i - 1] == '\r');
  }
  // Only the last line is an end line.
  const std::size_t last = wire.rfind("\r\n", wire.size() - 3);
  const std::string_view end_line =
      std::string_view(wire).substr(last == std::string::npos ? 0 : last + 2);
  CHECK(end_line.size() >= 4 && end_line[3] == ' ');
  CHECK(end_line.substr(0, 3) == std::string_view(wire).substr(0, 3));
  std::size_t pos = 0;
  while ((pos = wire.find("\r\n", pos)) != std::string::npos && pos + 2 < wire.size()) {
    pos += 2;
    CHECK(!(wire[pos] >= '0' && wire[pos] <= '9') || pos + end_line.size() == wire.size());
  }
}

void exercise_arguments(std::string_view arg) {
  if (const auto p = parse_port_argument(arg); p.ok()) {
    CHECK(p.value.family == AddressFamily::Ipv4);
    const std::array<std::uint8_t, 4> a = {p.value.address[0], p.value.address[1],
                                           p.value.address[2], p.value.address[3]};
    const Reply pasv = format_pasv_reply(a, p.value.port);
    const auto open = pasv.text.find('(');
    const auto close = pasv.text.find(')');
    CHECK(open != std::string::npos && close != std::string::npos);
    const auto again =
        parse_port_argument(std::string_view(pasv.text).substr(open + 1, close - open - 1));
    CHECK(again.ok() && again.value == p.value);
  }
  if (const auto e = parse_eprt_argument(arg); e.ok()) {
    if (e.value.family == AddressFamily::Ipv4) {
      for (std::size_t i = 4; i < e.value.address.size(); ++i) CHECK(e.value.address[i] == 0);
    }
  }
  (void)parse_epsv_argument(arg);
  (void)parse_type_argument(arg);
  (void)parse_mode_argument(arg);
  (void)parse_stru_argument(arg);
  (void)parse_auth_argument(arg);
  (void)parse_pbsz_argument(arg);
  (void)parse_prot_argument(arg);
  if (const auto r = parse_rest_argument(arg); r.ok()) {
    CHECK(r.value <= static_cast<std::uint64_t>(INT64_MAX));
    CHECK(std::to_string(r.value).size() <= arg.size());
  }
  if (const auto t = parse_timeval(arg); t.ok()) {
    CHECK(t.value.nanoseconds < 1'000'000'000);
    const auto text = format_timeval(t.value, 9);
    if (text) {
      const auto back = parse_timeval(*text);
      CHECK(back.ok() && back.value == t.value);
    } else {
      // Only a leap second on the last day of 9999 parses beyond the range.
      CHECK(t.value.seconds == kMaxTimeValSeconds + 1);
    }
  }
  if (const auto m = parse_mfmt_argument(arg); m.ok()) {
    CHECK(!m.value.path.empty() && is_within(m.value.path, arg));
  }
}

void exercise_line(std::string_view line) {
  const Command cmd = parse(line);
  CHECK(is_within(cmd.verb_text, line) && is_within(cmd.argument, line));
  CHECK(cmd.verb_text.find(' ') == std::string_view::npos);
  if (cmd.verb != Verb::Unknown) {
    CHECK(cmd.verb_text.size() >= 3 && cmd.verb_text.size() <= 4);
    CHECK(verb_name(cmd.verb).size() == cmd.verb_text.size());
  }
  const VerbRule& rule = lookup(cmd.verb);
  CHECK(rule.verb == cmd.verb);
  CHECK(canonical_verb(canonical_verb(cmd.verb)) == canonical_verb(cmd.verb));

  exercise_arguments(cmd.argument);
  exercise_arguments(line);

  // Client-chosen text in replies: raw (as multi-line text) and through the helpers.
  check_wire(Reply{kReplyFileUnavailable, std::string(line)});
  std::string text = "Name: ";
  append_single_line(text, line);
  const std::string single = to_wire(Reply{kReplyFileActionOk, text});
  CHECK(single.find("\r\n") == single.size() - 2);
  const std::string quoted = to_wire(Reply{kReplyPathnameCreated, quote_pathname(line)});
  CHECK(quoted.find("\r\n") == quoted.size() - 2);
  const std::string_view features[] = {line, cmd.argument};
  check_wire(feat_reply(features));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // Byte 0: the line limit (2..257 bytes, small enough to hit TooLong often).
  // Byte 1: seed of the chunk sizes.
  const std::size_t max_line = 2 + data[0];
  std::uint32_t seed = data[1] | 1U;
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  LineSplitter chunked(max_line);
  std::vector<std::string> chunked_lines;
  std::string_view rest = input;
  while (!rest.empty()) {
    seed = seed * 1'103'515'245U + 12'345U;  // a small LCG: chunks of 1..32 bytes
    std::string_view piece = rest.substr(0, 1 + (seed >> 16) % 32);
    rest.remove_prefix(piece.size());
    while (!piece.empty()) {
      const std::size_t used = chunked.feed(std::span<const char>(piece.data(), piece.size()));
      CHECK(used <= piece.size());
      piece.remove_prefix(used);
      drain(chunked, chunked_lines);
    }
  }

  LineSplitter whole(max_line);
  std::vector<std::string> whole_lines;
  rest = input;
  while (!rest.empty()) {
    rest.remove_prefix(whole.feed(std::span<const char>(rest.data(), rest.size())));
    drain(whole, whole_lines);
  }
  CHECK(chunked_lines == whole_lines);  // chunking never changes the result
  CHECK(chunked.buffered_bytes() == whole.buffered_bytes());

  for (const std::string& line : whole_lines) {
    if (line != kTooLong) exercise_line(line);
  }
  // The raw input too, unsplit: parsers must cope with LF and any length.
  exercise_arguments(input);
  (void)parse(input);

  whole.discard_buffered();
  CHECK(whole.buffered_bytes() == 0 && whole.next().kind == LineSplitter::Kind::NeedMore);
  return 0;
}
