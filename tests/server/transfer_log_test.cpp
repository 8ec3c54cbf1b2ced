// The reason a failed transfer's log line gives (issue 11: every failure
// line says why).
#include "server/transfer_log.hpp"

#include <gtest/gtest.h>

#include <cerrno>

namespace ringftpd::server {
namespace {

using R = ftp::TransferOutcome::Result;

std::string reason(R r, int error) {
  return transfer_failure_reason({r, error, 0, {}});
}

TEST(TransferFailureReason, NamesTheFailureAndTheSystemError) {
  EXPECT_EQ(reason(R::StorageFull, ENOSPC), "storage full: No space left on device");
  EXPECT_EQ(reason(R::StorageFull, EDQUOT), "storage full: Disk quota exceeded");
  EXPECT_EQ(reason(R::ConnectionLost, ECONNRESET),
            "data connection lost: Connection reset by peer");
  EXPECT_EQ(reason(R::NoConnection, ETIMEDOUT), "no data connection: Connection timed out");
  EXPECT_EQ(reason(R::FileError, ENOENT), "file error: No such file or directory");
  EXPECT_EQ(reason(R::LocalError, 0), "local error");
}

TEST(TransferFailureReason, TlsAndAbortsSayWhatHappened) {
  EXPECT_EQ(reason(R::ReuseRequired, 0),
            "data connection did not resume the control connection's TLS session");
  EXPECT_EQ(reason(R::TlsFailed, EPROTO), "data connection TLS handshake failed");
  EXPECT_EQ(reason(R::Aborted, ECANCELED), "aborted (ABOR, REIN or the session ended)");
}

}  // namespace
}  // namespace ringftpd::server
