#include "server/ftp/verb_table.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ringftpd::server::ftp {
namespace {

std::set<Verb> verbs_where(bool (*pred)(const VerbRule&)) {
  std::set<Verb> out;
  for (std::size_t i = 0; i < kVerbCount; ++i) {
    const auto v = static_cast<Verb>(i);
    if (pred(lookup(v))) out.insert(v);
  }
  return out;
}

TEST(FtpVerbTable, OneRowPerVerb) {
  for (std::size_t i = 0; i < kVerbCount; ++i) {
    EXPECT_EQ(lookup(static_cast<Verb>(i)).verb, static_cast<Verb>(i)) << i;
  }
}

TEST(FtpVerbTable, NotImplementedAnswer502) {
  const std::set<Verb> expected = {Verb::Unknown, Verb::Acct, Verb::Site, Verb::Lprt, Verb::Lpsv,
                                   Verb::Adat,    Verb::Mic,  Verb::Conf, Verb::Enc};
  EXPECT_EQ(verbs_where([](const VerbRule& r) { return !r.implemented; }), expected);
}

TEST(FtpVerbTable, FewImplementedVerbsAreAllowedInClearUnderEveryPolicy) {
  const std::set<Verb> expected = {Verb::Quit, Verb::Noop, Verb::Syst, Verb::Feat,
                                   Verb::Help, Verb::Auth, Verb::Pbsz, Verb::Prot};
  EXPECT_EQ(verbs_where([](const VerbRule& r) {
              return r.implemented && r.clear_text == ClearTextClass::Exempt;
            }),
            expected);
  EXPECT_EQ(verbs_where([](const VerbRule& r) {
              return r.implemented && r.clear_text == ClearTextClass::Login;
            }),
            (std::set<Verb>{Verb::User, Verb::Pass}));
}

TEST(FtpVerbTable, DataConnectionVerbsAreTheDraftsList) {
  // The draft's 10.2 list, minus MLST, which answers on the control connection.
  const std::set<Verb> expected = {Verb::Stor, Verb::Retr, Verb::Nlst, Verb::List,
                                   Verb::Stou, Verb::Appe, Verb::Mlsd};
  EXPECT_EQ(verbs_where([](const VerbRule& r) { return r.opens_data_connection; }), expected);
}

TEST(FtpVerbTable, LoginSequence) {
  EXPECT_EQ(lookup(Verb::User).phases, (PhaseSet{LoginPhase::Connected, LoginPhase::NeedPass}));
  EXPECT_FALSE(lookup(Verb::User).needs_login);  // USER after 230: 503
  EXPECT_EQ(lookup(Verb::Pass).phases, PhaseSet{LoginPhase::NeedPass});
  EXPECT_FALSE(lookup(Verb::Pass).needs_login);  // PASS before USER: 503
  EXPECT_FALSE(lookup(Verb::Pass).needs_argument);
  EXPECT_EQ(lookup(Verb::Auth).phases, PhaseSet{LoginPhase::Connected});
  EXPECT_TRUE(lookup(Verb::User).needs_argument);
}

TEST(FtpVerbTable, EveryImplementedVerbIsLegalSomewhereAndLoginVerbsOnlyAfterLogin) {
  for (std::size_t i = 1; i < kVerbCount; ++i) {
    const VerbRule& r = lookup(static_cast<Verb>(i));
    if (!r.implemented) continue;
    SCOPED_TRACE(std::string(verb_name(r.verb)));
    EXPECT_NE(r.phases, PhaseSet{});
    if (r.needs_login) {
      EXPECT_EQ(r.phases, kLoggedInOnly);
    }
    if (r.opens_data_connection) {
      EXPECT_TRUE(r.needs_login);
    }
  }
}

TEST(FtpVerbTable, XVariantsFollowTheirRfc959Verbs) {
  for (Verb x : {Verb::Xpwd, Verb::Xcwd, Verb::Xcup, Verb::Xmkd, Verb::Xrmd}) {
    const VerbRule& a = lookup(x);
    const VerbRule& b = lookup(canonical_verb(x));
    EXPECT_EQ(a.phases, b.phases);
    EXPECT_EQ(a.needs_login, b.needs_login);
    EXPECT_EQ(a.implemented, b.implemented);
    EXPECT_EQ(a.clear_text, b.clear_text);
    EXPECT_EQ(a.needs_argument, b.needs_argument);
  }
}

TEST(FtpVerbTable, AlwaysAvailable) {
  for (Verb v : {Verb::Quit, Verb::Noop, Verb::Feat, Verb::Pbsz, Verb::Prot}) {
    EXPECT_EQ(lookup(v).phases, kAnyPhase) << verb_name(v);
  }
}

TEST(FtpPhaseSet, Contains) {
  constexpr PhaseSet s{LoginPhase::Connected, LoginPhase::LoggedIn};
  static_assert(s.contains(LoginPhase::Connected) && !s.contains(LoginPhase::NeedPass));
  EXPECT_TRUE(s.contains(LoginPhase::LoggedIn));
  EXPECT_FALSE(PhaseSet{}.contains(LoginPhase::Connected));
}

}  // namespace
}  // namespace ringftpd::server::ftp
