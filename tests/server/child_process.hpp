// Runs a function in a forked child and reports how the child ended and what
// it wrote: for tests of things that cannot be undone in the test process
// (Landlock, seccomp) or that kill the process on purpose.
//
// The child writes through say() (one write(2) per call, no allocation after
// the text is built) and ends with _exit: no gtest macros, no destructors of
// the parent's objects.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <string_view>

namespace ringftpd::server::test_support {

struct ChildEnd {
  int status = 0;      // from waitpid
  std::string output;  // everything the child said
  [[nodiscard]] bool exited_ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  [[nodiscard]] int signal() const { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
};

inline void say(int fd, std::string_view text) {
  [[maybe_unused]] const ssize_t n = ::write(fd, text.data(), text.size());
}

// body(out_fd) returns the child's exit status.
template <class Body>
ChildEnd run_in_child(Body&& body) {
  int p[2];
  if (pipe(p) != 0) return {-1, "pipe failed"};
  const pid_t pid = fork();
  if (pid < 0) return {-1, "fork failed"};
  if (pid == 0) {
    close(p[0]);
    const int code = body(p[1]);
    _exit(code);
  }
  close(p[1]);
  ChildEnd end;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(p[0], buf, sizeof buf);
    if (n <= 0) break;
    end.output.append(buf, static_cast<std::size_t>(n));
  }
  close(p[0]);
  while (waitpid(pid, &end.status, 0) < 0) {
  }
  return end;
}

}  // namespace ringftpd::server::test_support
