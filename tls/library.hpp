// Process-wide wolfSSL initialisation as an RAII object.
//
// Contract:
// - Construct one Library near the top of main() (and of every test and
//   benchmark binary) before any other tls:: call, and keep it alive until every
//   context, session and credential check of this process is gone. It throws
//   TlsError when wolfSSL_Init fails.
// - wolfSSL_Init/Cleanup are reference-counted by wolfSSL itself, so nested
//   Library objects are harmless; the last one to go runs wolfSSL_Cleanup.
// - Fork: the master may hold a Library (to validate certificates at start-up
//   and on SIGHUP). A forked worker keeps the inherited initialisation, but
//   must create its own contexts, sessions and RNGs *after* the fork: a DRBG
//   or a ticket key created before fork() would be shared, byte for byte, by
//   every child (wolfSSL has no fork detection). Create the Library itself only
//   at a fork-safe point: not while another thread holds a wolfSSL lock.
#pragma once

namespace ringftpd::tls {

class Library {
 public:
  Library();
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
};

}  // namespace ringftpd::tls
