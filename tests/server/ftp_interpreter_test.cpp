// The pure interpreter: (state, command) -> replies + effect, no I/O at all.
#include "server/ftp/interpreter.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ringftpd::server::ftp {
namespace {

Policy clear_policy() {
  Policy p;
  p.control_tls = config::ControlTls::Optional;
  p.data_protection = config::DataProtection::ClearOnly;
  p.max_failed_logins = 3;
  return p;
}

SessionState logged_in(std::uint8_t perms = config::kPermAll) {
  SessionState s;
  s.phase = LoginPhase::LoggedIn;
  s.user = "alice";
  s.permissions = perms;
  s.peer.family = AddressFamily::Ipv4;
  s.peer.address = {127, 0, 0, 1};
  return s;
}

int code_of(const Step& step) {
  return step.replies.empty() ? 0 : step.replies.front().code;
}

Step run(SessionState& s, const Policy& p, std::string_view line) {
  return on_command(s, p, parse(line));
}

struct Row {
  std::string_view line;
  int code;  // 0: no reply yet (an effect runs first)
};

TEST(FtpInterpreter, RepliesBeforeLogin) {
  const Row rows[] = {
      {"XYZZY", 500},  {"SITE CHMOD 777 x", 502},
      {"ACCT x", 502}, {"PWD", 530},
      {"RETR f", 530}, {"PASS x", 503},
      {"USER", 501},   {"NOOP", 200},
      {"SYST", 215},   {"FEAT", 211},
      {"HELP", 214},   {"QUIT", 221},
  };
  for (const Row& r : rows) {
    SessionState s;
    EXPECT_EQ(code_of(run(s, clear_policy(), r.line)), r.code) << r.line;
  }
}

TEST(FtpInterpreter, LoginFlowAndFailureBudget) {
  const Policy p = clear_policy();
  SessionState s;
  EXPECT_EQ(code_of(run(s, p, "USER alice")), 331);
  Step pass = run(s, p, "PASS secret");
  ASSERT_TRUE(pass.has<effect::Authenticate>());
  EXPECT_EQ((*pass.find<effect::Authenticate>()).password, "secret");
  EXPECT_EQ(code_of(run(s, p, "PWD")), 503) << "commands wait while the login is checked";
  EXPECT_EQ(code_of(on_auth_result(s, p, {AuthOutcome::Result::Denied, {}, 0})), 530);
  EXPECT_FALSE(s.is_logged_in());
  // Two more failures reach max_failed_logins = 3: 421 and close.
  for (int i = 0; i < 2; ++i) {
    (void)run(s, p, "USER alice");
    (void)run(s, p, "PASS bad");
    const Step st = on_auth_result(s, p, {AuthOutcome::Result::Denied, {}, 0});
    if (i == 1) {
      EXPECT_EQ(code_of(st), 421);
      EXPECT_TRUE(st.has<effect::Close>());
    }
  }
  SessionState ok;
  (void)run(ok, p, "USER alice");
  (void)run(ok, p, "PASS good");
  EXPECT_EQ(code_of(on_auth_result(ok, p, {AuthOutcome::Result::Allowed, "/srv", 3})), 230);
  EXPECT_TRUE(ok.is_logged_in());
  EXPECT_EQ(ok.permissions, 3);
  EXPECT_EQ(code_of(run(ok, p, "USER bob")), 503) << "no user switch without REIN";
}

TEST(FtpInterpreter, ControlTlsPolicy) {
  Policy p = clear_policy();
  p.tls_available = true;
  p.control_tls = config::ControlTls::RequiredForLogin;
  SessionState s;
  EXPECT_EQ(code_of(run(s, p, "USER alice")), 534);
  EXPECT_EQ(code_of(run(s, p, "FEAT")), 211);
  p.anonymous_tls = config::AnonymousTls::ClearAllowed;
  EXPECT_EQ(code_of(run(s, p, "USER anonymous")), 331) << "anonymous exception (draft 10.1)";
  Step auth = run(s, p, "AUTH TLS");
  EXPECT_EQ(code_of(auth), 503) << "AUTH only before USER";
  SessionState fresh;
  auth = run(fresh, p, "AUTH TLS");
  EXPECT_EQ(code_of(auth), 234);
  EXPECT_TRUE(auth.has<effect::StartTls>());
  SessionState s2;
  EXPECT_EQ(code_of(run(s2, p, "AUTH GSSAPI")), 504);
  EXPECT_EQ(code_of(run(s2, p, "PBSZ 0")), 503) << "PBSZ before TLS";
}

TEST(FtpInterpreter, PathCommandsBecomeConfinedFsEffects) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.cwd = "/pub";
  const struct {
    std::string_view line;
    effect::FsOp op;
    std::string_view vpath;
    std::string_view rel;
  } rows[] = {
      {"CWD linux", effect::FsOp::ChangeDir, "/pub/linux", "pub/linux"},
      {"CWD ../../..", effect::FsOp::ChangeDir, "/", "."},
      {"CDUP", effect::FsOp::ChangeDir, "/", "."},
      {"MKD new dir", effect::FsOp::MakeDir, "/pub/new dir", "pub/new dir"},
      {"DELE /etc/passwd", effect::FsOp::Delete, "/etc/passwd", "etc/passwd"},
      {"SIZE ../x", effect::FsOp::Size, "/x", "x"},
      {"MDTM a", effect::FsOp::ModTime, "/pub/a", "pub/a"},
      {"RMD d", effect::FsOp::RemoveDir, "/pub/d", "pub/d"},
  };
  for (const auto& r : rows) {
    const Step st = run(s, p, r.line);
    const auto* fs = st.find<effect::Fs>();
    ASSERT_NE(fs, nullptr) << r.line;
    EXPECT_EQ(fs->op, r.op) << r.line;
    EXPECT_EQ(fs->vpath, r.vpath) << r.line;
    EXPECT_EQ(fs->rel, r.rel) << r.line;
  }
  EXPECT_EQ(code_of(run(s, p, std::string_view("CWD a\0b", 7))), 501);
  EXPECT_EQ(code_of(run(s, p, "CWD \xC0\xAF")), 553) << "overlong UTF-8";
}

TEST(FtpInterpreter, FsResultsUpdateStateAndReply) {
  SessionState s = logged_in();
  effect::Fs cwd{effect::FsOp::ChangeDir, "/pub", "pub", {}, {}};
  EXPECT_EQ(code_of(on_fs_result(s, cwd, {0, 0, {}, true, {}})), 250);
  EXPECT_EQ(s.cwd, "/pub");
  EXPECT_EQ(code_of(on_fs_result(s, cwd, {0, 0, {}, false, {}})), 550) << "a file is no directory";
  EXPECT_EQ(code_of(on_fs_result(s, cwd, {ENOENT, 0, {}, false, {}})), 550);
  effect::Fs size{effect::FsOp::Size, "/f", "f", {}, {}};
  const Step st = on_fs_result(s, size, {0, 1234, {}, false, {}});
  EXPECT_EQ(code_of(st), 213);
  EXPECT_EQ(st.replies.front().text, "1234");
  effect::Fs mkd{effect::FsOp::MakeDir, "/a\"b", "a\"b", {}, {}};
  EXPECT_EQ(on_fs_result(s, mkd, {}).replies.front().text, "\"/a\"\"b\" created.");
  EXPECT_EQ(code_of(on_fs_result(s, mkd, {ENOSPC, 0, {}, false, {}})), 452);
}

TEST(FtpInterpreter, RenameNeedsRnfrFirstAndCarriesSource) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  EXPECT_EQ(code_of(run(s, p, "RNTO b")), 503);
  const Step from = run(s, p, "RNFR a");
  const auto* fs = from.find<effect::Fs>();
  ASSERT_NE(fs, nullptr);
  EXPECT_EQ(code_of(on_fs_result(s, *fs, {})), 350);
  const Step to = run(s, p, "RNTO b");
  const auto* fs2 = to.find<effect::Fs>();
  ASSERT_NE(fs2, nullptr);
  EXPECT_EQ(fs2->rel2, "a");
  EXPECT_EQ(fs2->rel, "b");
  (void)on_fs_result(s, *fs, {});
  (void)run(s, p, "NOOP");
  EXPECT_EQ(code_of(run(s, p, "RNTO b")), 503) << "RNFR is forgotten by any other command";
}

TEST(FtpInterpreter, PermissionsAreChecked) {
  const Policy p = clear_policy();
  SessionState s = logged_in(config::kPermReadOnly);
  s.data_mode = DataMode::Passive;
  for (std::string_view line : {"STOR f", "APPE f", "DELE f", "MKD d", "RMD d", "RNFR f"}) {
    EXPECT_EQ(code_of(run(s, p, line)), 550) << line;
  }
  EXPECT_TRUE(run(s, p, "RETR f").has<effect::Transfer>());
}

TEST(FtpInterpreter, PortChecksPeerAndPrivilegedPorts) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  EXPECT_EQ(code_of(run(s, p, "PORT 127,0,0,2,200,10")), 500) << "FTP bounce";
  EXPECT_EQ(code_of(run(s, p, "PORT 127,0,0,1,0,80")), 500) << "privileged port";
  EXPECT_EQ(code_of(run(s, p, "PORT 127,0,0,1,200,10")), 200);
  EXPECT_EQ(s.data_mode, DataMode::Active);
  EXPECT_EQ(s.active_target->port, 200 * 256 + 10);
  EXPECT_EQ(code_of(run(s, p, "EPRT |1|10.0.0.1|5000|")), 500);
  EXPECT_EQ(code_of(run(s, p, "EPSV ALL")), 200);
  EXPECT_EQ(code_of(run(s, p, "PORT 127,0,0,1,200,10")), 503) << "EPSV ALL refuses PORT";
  EXPECT_EQ(code_of(run(s, p, "PASV")), 503);
  EXPECT_TRUE(run(s, p, "EPSV").has<effect::OpenPassive>());
}

TEST(FtpInterpreter, BehindABalancerEpsvIsRefusedSoClientsUsePasv) {
  Policy p = clear_policy();
  p.epsv_available = false;
  SessionState s = logged_in();
  EXPECT_EQ(code_of(run(s, p, "EPSV")), 502);
  EXPECT_EQ(code_of(run(s, p, "EPSV ALL")), 502) << "EPSV ALL would then refuse PASV";
  EXPECT_TRUE(run(s, p, "PASV").has<effect::OpenPassive>());
  EXPECT_EQ(feature_text(p).find("EPSV"), std::string::npos);
  EXPECT_NE(feature_text(clear_policy()).find("EPSV"), std::string::npos);
}

TEST(FtpInterpreter, TransferNeedsDataSetupAndRightProt) {
  Policy p = clear_policy();
  SessionState s = logged_in();
  EXPECT_EQ(code_of(run(s, p, "RETR f")), 425);
  s.data_mode = DataMode::Passive;
  p.data_protection = config::DataProtection::Required;
  EXPECT_EQ(code_of(run(s, p, "RETR f")), 521) << "draft 10.2: wrong PROT before any 150";
  p.data_protection = config::DataProtection::PerCommand;
  p.clear_allowed_for = {Verb::List};
  EXPECT_EQ(code_of(run(s, p, "RETR f")), 521);
  EXPECT_TRUE(run(s, p, "LIST -la").has<effect::Transfer>());
}

TEST(FtpInterpreter, RestAppliesToTheNextTransferOnly) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.data_mode = DataMode::Passive;
  EXPECT_EQ(code_of(run(s, p, "REST 1000")), 350);
  EXPECT_EQ(code_of(run(s, p, "REST -1")), 501);
  const Step st = run(s, p, "RETR f");
  const auto* t = st.find<effect::Transfer>();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->offset, 1000u);
  EXPECT_EQ(s.restart_offset, 0u);
  EXPECT_EQ(code_of(run(s, p, "RETR g")), 503) << "one transfer at a time";
  EXPECT_EQ(code_of(on_transfer_result(s, *t, {TransferOutcome::Result::Done, 0, 5, {}})), 226);
  EXPECT_EQ(s.data_mode, DataMode::None) << "a data connection serves one transfer";

  // A refused RETR consumes the REST before it, as vsftpd and ProFTPD do.
  EXPECT_EQ(code_of(run(s, p, "REST 315")), 350);
  EXPECT_EQ(code_of(run(s, p, "RETR f")), 425) << "no data connection set up";
  s.data_mode = DataMode::Passive;
  const Step again = run(s, p, "RETR f");
  ASSERT_NE(again.find<effect::Transfer>(), nullptr);
  EXPECT_EQ(again.find<effect::Transfer>()->offset, 0u);
}

TEST(FtpInterpreter, AbortRepliesAndTransferErrors) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  EXPECT_EQ(code_of(run(s, p, "ABOR")), 226) << "nothing to abort";
  s.transfer_in_progress = true;
  EXPECT_TRUE(run(s, p, "ABOR").has<effect::Abort>());
  const effect::Transfer t{effect::TransferKind::Retr, "/f", "f", 0, TransferType::Image, false};
  const Step aborted = on_transfer_result(s, t, {TransferOutcome::Result::Aborted, 0, 0, {}});
  ASSERT_EQ(aborted.replies.size(), 2u);
  EXPECT_EQ(aborted.replies[0].code, 426);
  EXPECT_EQ(aborted.replies[1].code, 226);
  const struct {
    TransferOutcome::Result r;
    int err;
    int code;
  } rows[] = {
      {TransferOutcome::Result::NoConnection, 0, 425},
      {TransferOutcome::Result::ConnectionLost, EPIPE, 426},
      {TransferOutcome::Result::FileError, ENOENT, 550},
      {TransferOutcome::Result::FileError, EINVAL, 554},
      {TransferOutcome::Result::StorageFull, ENOSPC, 452},
      {TransferOutcome::Result::StorageFull, EDQUOT, 552},
      {TransferOutcome::Result::LocalError, EIO, 451},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(code_of(on_transfer_result(s, t, {r.r, r.err, 0, {}})), r.code) << r.err;
  }
}

TEST(FtpInterpreter, TypeModeStruAndOpts) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  const Row rows[] = {{"TYPE I", 200},       {"TYPE A", 200},   {"TYPE E", 504},   {"TYPE", 501},
                      {"MODE S", 200},       {"MODE B", 504},   {"STRU F", 200},   {"STRU R", 504},
                      {"OPTS UTF8 ON", 200}, {"OPTS FOO", 501}, {"ALLO 100", 202}, {"STAT", 211},
                      {"PBSZ 0", 503},       {"CCC", 503}};
  for (const Row& r : rows) EXPECT_EQ(code_of(run(s, p, r.line)), r.code) << r.line;
}

TEST(FtpInterpreter, VerifiedCertificateStandsInForPass) {
  const Policy p = clear_policy();
  SessionState s;
  s.tls_active = true;
  s.certificate_user = "alice";
  const Step user = run(s, p, "USER alice");
  const auto* a = user.find<effect::Authenticate>();
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->by_certificate);
  EXPECT_TRUE(a->password.empty());
  EXPECT_EQ(code_of(on_auth_result(s, p, {AuthOutcome::Result::Allowed, "/r", 3, true})), 232);
  EXPECT_TRUE(s.is_logged_in());
  SessionState other;
  other.tls_active = true;
  other.certificate_user = "alice";
  EXPECT_EQ(code_of(run(other, p, "USER bob")), 331) << "another name still needs PASS";
}

TEST(FtpInterpreter, CccOnlyWhenAllowedAndProtected) {
  Policy p = clear_policy();
  SessionState s = logged_in();
  EXPECT_EQ(code_of(run(s, p, "CCC")), 503) << "nothing to clear";
  s.tls_active = true;
  EXPECT_EQ(code_of(run(s, p, "CCC")), 533) << "off by default";
  p.allow_ccc = true;
  const Step st = run(s, p, "CCC");
  EXPECT_EQ(code_of(st), 200);
  ASSERT_TRUE(st.has<effect::EndTls>());
  EXPECT_TRUE((*st.find<effect::EndTls>()).keep_login);
  EXPECT_FALSE(s.tls_active);
  EXPECT_TRUE(s.is_logged_in());
}

TEST(FtpInterpreter, ReinEndsTlsAndTheLogin) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.tls_active = true;
  s.prot = ProtLevel::Private;
  const Step st = run(s, p, "REIN");
  EXPECT_EQ(code_of(st), 220);
  ASSERT_TRUE(st.has<effect::EndTls>());
  EXPECT_FALSE((*st.find<effect::EndTls>()).keep_login);
  EXPECT_FALSE(s.tls_active);
  EXPECT_EQ(s.prot, ProtLevel::Clear) << "draft §9: PROT back to C";
}

TEST(FtpInterpreter, ReinResetsTheLogin) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.cwd = "/pub";
  EXPECT_EQ(code_of(run(s, p, "REIN")), 220);
  EXPECT_FALSE(s.is_logged_in());
  EXPECT_EQ(s.cwd, "/");
  EXPECT_EQ(s.peer.address[0], 127) << "the peer survives REIN";
}

TEST(FtpInterpreter, FeatListsExtensions) {
  Policy p = clear_policy();
  const std::string f = feature_text(p);
  for (std::string_view ext :
       {"EPSV", "EPRT", "MDTM", "MFMT", "SIZE", "REST STREAM", "MLST", "UTF8"}) {
    EXPECT_NE(f.find(ext), std::string::npos) << ext;
  }
  EXPECT_EQ(f.find("AUTH TLS"), std::string::npos) << "not advertised without TLS";
  p.tls_available = true;
  EXPECT_NE(feature_text(p).find("AUTH TLS"), std::string::npos);
}

}  // namespace
}  // namespace ringftpd::server::ftp

namespace ringftpd::server::ftp {
namespace {

TEST(FtpInterpreterEffects, ReinDuringATransferAbortsItAndRepliesInOrder) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.tls_active = true;
  s.data_mode = DataMode::Passive;
  s.transfer_in_progress = true;
  const Step rein = run(s, p, "REIN");
  EXPECT_TRUE(rein.replies.empty()) << "the transfer's 426 must come first";
  ASSERT_EQ(rein.effects.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<effect::Abort>(rein.effects[0]));
  EXPECT_TRUE(std::holds_alternative<effect::AwaitTransferEnd>(rein.effects[1]));
  EXPECT_TRUE(s.is_logged_in()) << "the login ends only once the transfer has reported";

  const effect::Transfer t{effect::TransferKind::Retr, "/f", "f", 0, TransferType::Image, false};
  const Step done = on_transfer_result(s, t, {TransferOutcome::Result::Aborted, 0, 0, {}});
  ASSERT_EQ(done.replies.size(), 2u);
  EXPECT_EQ(done.replies[0].code, 426);
  EXPECT_EQ(done.replies[1].code, 220);
  ASSERT_EQ(done.effects.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<effect::EndLogin>(done.effects[0]));
  EXPECT_TRUE(std::holds_alternative<effect::EndTls>(done.effects[1]));
  EXPECT_FALSE(s.is_logged_in());
  EXPECT_FALSE(s.transfer_in_progress);
  EXPECT_FALSE(s.rein_pending);
  EXPECT_EQ(code_of(run(s, p, "PASV")), 530) << "a new login is needed";
}

TEST(FtpInterpreterEffects, ReinRacingATransferThatCompletedKeepsItsReply) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.transfer_in_progress = true;
  (void)run(s, p, "REIN");
  const effect::Transfer t{effect::TransferKind::Retr, "/f", "f", 0, TransferType::Image, false};
  const Step done = on_transfer_result(s, t, {TransferOutcome::Result::Done, 0, 10, {}});
  ASSERT_EQ(done.replies.size(), 2u);
  EXPECT_EQ(done.replies[0].code, 226);
  EXPECT_EQ(done.replies[1].code, 220);
  EXPECT_FALSE(done.has<effect::EndTls>()) << "the control connection was clear";
  EXPECT_TRUE(done.has<effect::EndLogin>());
}

TEST(FtpInterpreterEffects, ReinWithoutTransferReleasesTheLogin) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  const Step st = run(s, p, "REIN");
  EXPECT_EQ(code_of(st), 220);
  EXPECT_TRUE(st.has<effect::EndLogin>());
}

TEST(FtpInterpreterEffects, AborHoldsLaterCommandsUntilTheTransferReports) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.transfer_in_progress = true;
  const Step st = run(s, p, "ABOR");
  ASSERT_EQ(st.effects.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<effect::Abort>(st.effects[0]));
  EXPECT_TRUE(std::holds_alternative<effect::AwaitTransferEnd>(st.effects[1]));
}

TEST(FtpInterpreterEffects, AborStillAnswersWhenTheTransferCompletedFirst) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  s.transfer_in_progress = true;
  (void)run(s, p, "ABOR");
  const effect::Transfer t{effect::TransferKind::Retr, "/f", "f", 0, TransferType::Image, false};
  const Step done = on_transfer_result(s, t, {TransferOutcome::Result::Done, 0, 10, {}});
  ASSERT_EQ(done.replies.size(), 2u) << "the transfer's 226, then ABOR's";
  EXPECT_EQ(done.replies[0].code, 226);
  EXPECT_EQ(done.replies[1].code, 226);
  s.transfer_in_progress = true;
  (void)run(s, p, "ABOR");
  const Step aborted = on_transfer_result(s, t, {TransferOutcome::Result::Aborted, 0, 0, {}});
  ASSERT_EQ(aborted.replies.size(), 2u);
  EXPECT_EQ(aborted.replies[0].code, 426);
  EXPECT_EQ(aborted.replies[1].code, 226);
  s.transfer_in_progress = true;
  const Step next = on_transfer_result(s, t, {TransferOutcome::Result::Done, 0, 10, {}});
  EXPECT_EQ(next.replies.size(), 1u) << "no ABOR pending any more";
  s.transfer_in_progress = true;
  const Step closing = on_transfer_result(s, t, {TransferOutcome::Result::Aborted, 0, 0, {}});
  ASSERT_EQ(closing.replies.size(), 1u) << "aborted by a closing session, not by ABOR: no 226";
  EXPECT_EQ(closing.replies[0].code, 426);
}

TEST(FtpInterpreterEffects, PassiveAndActiveRefreshTheTicketFirstUnderTls) {
  const Policy p = clear_policy();
  SessionState s = logged_in();
  EXPECT_TRUE(run(s, p, "EPSV").prelude.empty()) << "no ticket on a clear control connection";
  s.tls_active = true;
  const Step epsv = run(s, p, "EPSV");
  ASSERT_EQ(epsv.prelude.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<effect::RefreshTicket>(epsv.prelude[0]));
  EXPECT_TRUE(epsv.has<effect::OpenPassive>());

  const Step port = run(s, p, "PORT 127,0,0,1,200,10");
  EXPECT_EQ(code_of(port), 200);
  const auto* target = port.find<effect::UseActiveTarget>();
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->target.port, 200 * 256 + 10);
  EXPECT_TRUE(port.has<effect::RefreshTicket>());
  EXPECT_EQ(code_of(run(s, p, "PORT 10,0,0,1,200,10")), 500) << "not the peer: no effect";
  EXPECT_TRUE(run(s, p, "PORT 10,0,0,1,200,10").prelude.empty());
}

}  // namespace
}  // namespace ringftpd::server::ftp
