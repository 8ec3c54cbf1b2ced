#include "server/ftp/command.hpp"

#include <gtest/gtest.h>

#include <array>
#include <ostream>
#include <string>
#include <string_view>

#include "server/ftp/host_port.hpp"
#include "server/ftp/timeval.hpp"

namespace ringftpd::server::ftp {

// Readable failures.
std::ostream& operator<<(std::ostream& os, ParseStatus s) {
  switch (s) {
    case ParseStatus::Ok:
      return os << "Ok";
    case ParseStatus::Syntax:
      return os << "Syntax";
    case ParseStatus::Unsupported:
      return os << "Unsupported";
  }
  return os << "?";
}
std::ostream& operator<<(std::ostream& os, Verb v) {
  return os << (v == Verb::Unknown ? std::string_view("Unknown") : verb_name(v));
}

namespace {

using namespace std::string_literals;
constexpr auto Ok = ParseStatus::Ok;
constexpr auto Syntax = ParseStatus::Syntax;
constexpr auto Unsupported = ParseStatus::Unsupported;

std::string row_name(const char* name) {
  return name;
}

// ---- parse() ----

struct ParseRow {
  const char* name;
  std::string line;
  Verb verb;
  std::string verb_text;
  std::string argument;
};

class FtpParseRules : public testing::TestWithParam<ParseRow> {};

TEST_P(FtpParseRules, SplitsVerbAndArgument) {
  const ParseRow& row = GetParam();
  const Command cmd = parse(row.line);
  EXPECT_EQ(cmd.verb, row.verb);
  EXPECT_EQ(cmd.verb_text, row.verb_text);
  EXPECT_EQ(cmd.argument, row.argument);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpParseRules,
    testing::Values(
        ParseRow{"upper_case", "USER alice", Verb::User, "USER", "alice"},
        ParseRow{"lower_case", "user alice", Verb::User, "user", "alice"},
        ParseRow{"mixed_case", "uSeR alice", Verb::User, "uSeR", "alice"},
        ParseRow{"three_letter_verb", "CWD /pub", Verb::Cwd, "CWD", "/pub"},
        ParseRow{"no_argument", "NOOP", Verb::Noop, "NOOP", ""},
        ParseRow{"trailing_space_empty_argument", "NOOP ", Verb::Noop, "NOOP", ""},
        ParseRow{"empty_password", "PASS ", Verb::Pass, "PASS", ""},
        ParseRow{"argument_with_inner_spaces", "STOR my file.txt", Verb::Stor, "STOR",
                 "my file.txt"},
        ParseRow{"leading_space_kept_after_the_separator", "STOR  leading", Verb::Stor, "STOR",
                 " leading"},
        ParseRow{"trailing_spaces_kept", "RETR name  ", Verb::Retr, "RETR", "name  "},
        ParseRow{"argument_with_options", "LIST -la /tmp", Verb::List, "LIST", "-la /tmp"},
        ParseRow{"argument_keeps_cr_and_nul", "RETR a\rb\0c"s, Verb::Retr, "RETR", "a\rb\0c"s},
        ParseRow{"utf8_argument", "MKD \xC3\xA9t\xC3\xA9", Verb::Mkd, "MKD", "\xC3\xA9t\xC3\xA9"},
        ParseRow{"x_variant", "XPWD", Verb::Xpwd, "XPWD", ""},
        ParseRow{"security_verb", "auth tls", Verb::Auth, "auth", "tls"},
        ParseRow{"unknown_well_formed", "XYZW foo", Verb::Unknown, "XYZW", "foo"},
        ParseRow{"unknown_too_long", "USERS alice", Verb::Unknown, "USERS", "alice"},
        ParseRow{"unknown_too_short", "US alice", Verb::Unknown, "US", "alice"},
        ParseRow{"unknown_digit", "US3R alice", Verb::Unknown, "US3R", "alice"},
        ParseRow{"unknown_punctuation", "TLS-C", Verb::Unknown, "TLS-C", ""},
        ParseRow{"unknown_non_ascii", "\xC3\x9CSER x", Verb::Unknown, "\xC3\x9CSER", "x"},
        ParseRow{"unknown_tab_separator", "USER\talice", Verb::Unknown, "USER\talice", ""},
        ParseRow{"unknown_leading_space", " USER alice", Verb::Unknown, "", "USER alice"},
        ParseRow{"empty_line", "", Verb::Unknown, "", ""},
        ParseRow{"verb_with_cr", "NOOP\r", Verb::Unknown, "NOOP\r", ""}),
    [](const auto& info) { return row_name(info.param.name); });

TEST(FtpParse, EveryVerbRoundTripsThroughItsNameInBothCases) {
  for (std::size_t i = 1; i < kVerbCount; ++i) {
    const auto verb = static_cast<Verb>(i);
    const std::string_view name = verb_name(verb);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_EQ(parse(name).verb, verb) << name;
    std::string lower(name);
    for (char& c : lower) c = static_cast<char>(c - 'A' + 'a');
    EXPECT_EQ(parse(lower + " x").verb, verb) << lower;
  }
  EXPECT_EQ(verb_name(Verb::Unknown), "");
}

TEST(FtpParse, CanonicalVerbFoldsTheXVariants) {
  EXPECT_EQ(canonical_verb(Verb::Xpwd), Verb::Pwd);
  EXPECT_EQ(canonical_verb(Verb::Xcwd), Verb::Cwd);
  EXPECT_EQ(canonical_verb(Verb::Xcup), Verb::Cdup);
  EXPECT_EQ(canonical_verb(Verb::Xmkd), Verb::Mkd);
  EXPECT_EQ(canonical_verb(Verb::Xrmd), Verb::Rmd);
  EXPECT_EQ(canonical_verb(Verb::Retr), Verb::Retr);
  EXPECT_EQ(canonical_verb(Verb::Unknown), Verb::Unknown);
}

// ---- Small arguments: one table, every parser. ----

enum class Parser { Type, Mode, Stru, Rest, Auth, Pbsz, Prot, Epsv, Mfmt };

struct ArgRow {
  const char* name;
  Parser parser;
  std::string arg;
  ParseStatus status;
};

ParseStatus run(Parser p, std::string_view arg) {
  switch (p) {
    case Parser::Type:
      return parse_type_argument(arg).status;
    case Parser::Mode:
      return parse_mode_argument(arg);
    case Parser::Stru:
      return parse_stru_argument(arg);
    case Parser::Rest:
      return parse_rest_argument(arg).status;
    case Parser::Auth:
      return parse_auth_argument(arg).status;
    case Parser::Pbsz:
      return parse_pbsz_argument(arg).status;
    case Parser::Prot:
      return parse_prot_argument(arg).status;
    case Parser::Epsv:
      return parse_epsv_argument(arg).status;
    case Parser::Mfmt:
      return parse_mfmt_argument(arg).status;
  }
  return Syntax;
}

class FtpArgumentRules : public testing::TestWithParam<ArgRow> {};

TEST_P(FtpArgumentRules, Status) {
  const ArgRow& row = GetParam();
  EXPECT_EQ(run(row.parser, row.arg), row.status) << '"' << row.arg << '"';
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FtpArgumentRules,
    testing::Values(
        // TYPE (RFC 959 §4.1.2)
        ArgRow{"type_a", Parser::Type, "A", Ok}, ArgRow{"type_a_lower", Parser::Type, "a", Ok},
        ArgRow{"type_a_n", Parser::Type, "A N", Ok},
        ArgRow{"type_a_n_lower", Parser::Type, "a n", Ok}, ArgRow{"type_i", Parser::Type, "I", Ok},
        ArgRow{"type_i_lower", Parser::Type, "i", Ok}, ArgRow{"type_l_8", Parser::Type, "L 8", Ok},
        ArgRow{"type_a_telnet", Parser::Type, "A T", Unsupported},
        ArgRow{"type_a_asa", Parser::Type, "A C", Unsupported},
        ArgRow{"type_ebcdic", Parser::Type, "E", Unsupported},
        ArgRow{"type_ebcdic_n", Parser::Type, "E N", Unsupported},
        ArgRow{"type_l_16", Parser::Type, "L 16", Unsupported},
        ArgRow{"type_empty", Parser::Type, "", Syntax},
        ArgRow{"type_unknown_letter", Parser::Type, "X", Syntax},
        ArgRow{"type_l_without_size", Parser::Type, "L", Syntax},
        ArgRow{"type_l_garbage", Parser::Type, "L x", Syntax},
        ArgRow{"type_l_negative", Parser::Type, "L -8", Syntax},
        ArgRow{"type_l_overflow", Parser::Type, "L 99999999999", Syntax},
        ArgRow{"type_two_spaces", Parser::Type, "A  N", Syntax},
        ArgRow{"type_no_space", Parser::Type, "AN", Syntax},
        ArgRow{"type_bad_form", Parser::Type, "A X", Syntax},
        ArgRow{"type_i_with_form", Parser::Type, "I N", Syntax},
        ArgRow{"type_leading_space", Parser::Type, " A", Syntax},
        ArgRow{"type_trailing_space", Parser::Type, "A N ", Syntax},
        // MODE, STRU
        ArgRow{"mode_s", Parser::Mode, "S", Ok}, ArgRow{"mode_s_lower", Parser::Mode, "s", Ok},
        ArgRow{"mode_b", Parser::Mode, "B", Unsupported},
        ArgRow{"mode_c", Parser::Mode, "C", Unsupported},
        ArgRow{"mode_z", Parser::Mode, "Z", Unsupported},
        ArgRow{"mode_empty", Parser::Mode, "", Syntax},
        ArgRow{"mode_word", Parser::Mode, "STREAM", Syntax},
        ArgRow{"stru_f", Parser::Stru, "f", Ok}, ArgRow{"stru_r", Parser::Stru, "R", Unsupported},
        ArgRow{"stru_p", Parser::Stru, "P", Unsupported},
        ArgRow{"stru_x", Parser::Stru, "X", Syntax},
        // REST (RFC 3659 §5)
        ArgRow{"rest_zero", Parser::Rest, "0", Ok},
        ArgRow{"rest_offset", Parser::Rest, "1048576", Ok},
        ArgRow{"rest_int64_max", Parser::Rest, "9223372036854775807", Ok},
        ArgRow{"rest_above_int64", Parser::Rest, "9223372036854775808", Syntax},
        ArgRow{"rest_uint64_overflow", Parser::Rest, "18446744073709551616", Syntax},
        ArgRow{"rest_empty", Parser::Rest, "", Syntax},
        ArgRow{"rest_negative", Parser::Rest, "-1", Syntax},
        ArgRow{"rest_plus", Parser::Rest, "+1", Syntax},
        ArgRow{"rest_leading_space", Parser::Rest, " 1", Syntax},
        ArgRow{"rest_trailing_space", Parser::Rest, "1 ", Syntax},
        ArgRow{"rest_trailing_garbage", Parser::Rest, "12a", Syntax},
        ArgRow{"rest_hex", Parser::Rest, "0x10", Syntax},
        // AUTH (RFC 4217 §4)
        ArgRow{"auth_tls", Parser::Auth, "TLS", Ok},
        ArgRow{"auth_tls_lower", Parser::Auth, "tls", Ok},
        ArgRow{"auth_tls_c", Parser::Auth, "TLS-C", Ok},
        ArgRow{"auth_tls_c_lower", Parser::Auth, "tls-c", Ok},
        ArgRow{"auth_ssl", Parser::Auth, "SSL", Ok},
        ArgRow{"auth_tls_p", Parser::Auth, "TLS-P", Ok},
        ArgRow{"auth_gssapi", Parser::Auth, "GSSAPI", Unsupported},
        ArgRow{"auth_tls_trailing_space", Parser::Auth, "TLS ", Unsupported},
        ArgRow{"auth_empty", Parser::Auth, "", Syntax},
        // PBSZ (RFC 4217 §9)
        ArgRow{"pbsz_zero", Parser::Pbsz, "0", Ok},
        ArgRow{"pbsz_max", Parser::Pbsz, "4294967295", Ok},
        ArgRow{"pbsz_overflow", Parser::Pbsz, "4294967296", Syntax},
        ArgRow{"pbsz_negative", Parser::Pbsz, "-1", Syntax},
        ArgRow{"pbsz_empty", Parser::Pbsz, "", Syntax},
        ArgRow{"pbsz_word", Parser::Pbsz, "abc", Syntax},
        // PROT (RFC 4217 §9)
        ArgRow{"prot_c", Parser::Prot, "C", Ok}, ArgRow{"prot_p_lower", Parser::Prot, "p", Ok},
        ArgRow{"prot_safe", Parser::Prot, "S", Unsupported},
        ArgRow{"prot_confidential", Parser::Prot, "E", Unsupported},
        ArgRow{"prot_unknown", Parser::Prot, "X", Syntax},
        ArgRow{"prot_two_letters", Parser::Prot, "CP", Syntax},
        ArgRow{"prot_trailing_space", Parser::Prot, "P ", Syntax},
        ArgRow{"prot_empty", Parser::Prot, "", Syntax},
        // EPSV (RFC 2428 §3)
        ArgRow{"epsv_none", Parser::Epsv, "", Ok}, ArgRow{"epsv_1", Parser::Epsv, "1", Ok},
        ArgRow{"epsv_2", Parser::Epsv, "2", Ok}, ArgRow{"epsv_all", Parser::Epsv, "ALL", Ok},
        ArgRow{"epsv_all_lower", Parser::Epsv, "all", Ok},
        ArgRow{"epsv_other_protocol", Parser::Epsv, "3", Unsupported},
        ArgRow{"epsv_garbage", Parser::Epsv, "x", Syntax},
        ArgRow{"epsv_leading_space", Parser::Epsv, " 1", Syntax},
        // MFMT (draft-somers-ftp-mfxx)
        ArgRow{"mfmt_ok", Parser::Mfmt, "20200101000000 file.txt", Ok},
        ArgRow{"mfmt_fraction", Parser::Mfmt, "20200101000000.5 a b", Ok},
        ArgRow{"mfmt_no_path", Parser::Mfmt, "20200101000000", Syntax},
        ArgRow{"mfmt_empty_path", Parser::Mfmt, "20200101000000 ", Syntax},
        ArgRow{"mfmt_bad_time", Parser::Mfmt, "2020 file", Syntax},
        ArgRow{"mfmt_invalid_date", Parser::Mfmt, "20200230000000 file", Syntax},
        ArgRow{"mfmt_empty", Parser::Mfmt, "", Syntax}),
    [](const auto& info) { return row_name(info.param.name); });

TEST(FtpArguments, Values) {
  EXPECT_EQ(parse_type_argument("A N").value, TransferType::Ascii);
  EXPECT_EQ(parse_type_argument("L 8").value, TransferType::Image);
  EXPECT_EQ(parse_type_argument("i").value, TransferType::Image);
  EXPECT_EQ(parse_rest_argument("9223372036854775807").value, 9223372036854775807ULL);
  EXPECT_EQ(parse_auth_argument("tls-c").value, AuthMechanism::Tls);
  EXPECT_EQ(parse_auth_argument("TLS-P").value, AuthMechanism::Ssl);
  EXPECT_EQ(parse_pbsz_argument("4294967295").value, 4294967295U);
  EXPECT_EQ(parse_prot_argument("c").value, ProtLevel::Clear);
  EXPECT_EQ(parse_prot_argument("P").value, ProtLevel::Private);
  EXPECT_EQ(parse_epsv_argument("").value, EpsvArgument::Any);
  EXPECT_EQ(parse_epsv_argument("2").value, EpsvArgument::Ipv6);
  EXPECT_EQ(parse_epsv_argument("All").value, EpsvArgument::All);
  const auto mfmt = parse_mfmt_argument("19700101000001  two spaces");
  ASSERT_TRUE(mfmt.ok());
  EXPECT_EQ(mfmt.value.time, (TimeVal{1, 0}));
  EXPECT_EQ(mfmt.value.path, " two spaces");
}

}  // namespace
}  // namespace ringftpd::server::ftp
