/* An LD_PRELOAD shim for test_sandbox.py: lets a test make a real, serving
 * worker ask for what its sandbox forbids, through the worker's own code
 * path, without any test hook in the server.
 *
 * The worker's directory lister calls fstatat() on every name of a listing.
 * When the name is
 *   "forbidden-call-trigger"  the shim makes a system call the seccomp filter
 *                             forbids (socket(AF_UNIX)): the filter must kill
 *                             the worker with SIGSYS;
 *   "landlock-probe-trigger"  the shim opens RINGFTPD_SHIM_OUTSIDE read-only
 *                             (allowed by seccomp, a file outside every root)
 *                             and writes the outcome to stderr:
 *                             "shim: open <path>: ok" or ": <strerror>".
 * Any other name is passed straight to libc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

typedef int (*fstatat_fn)(int, const char*, struct stat*, int);
static fstatat_fn real_fstatat;
static const char* outside;

__attribute__((constructor)) static void shim_init(void) {
  /* Resolved now: after the sandbox closes, nothing may be looked up. */
  real_fstatat = (fstatat_fn)dlsym(RTLD_NEXT, "fstatat");
  outside = getenv("RINGFTPD_SHIM_OUTSIDE");
}

static void say(const char* text) {
  ssize_t n = write(2, text, strlen(text));
  (void)n;
}

static void maybe_trigger(const char* name) {
  if (name == NULL) return;
  if (strcmp(name, "forbidden-call-trigger") == 0) {
    say("shim: calling socket(AF_UNIX)\n");
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0) close(s);
    say("shim: socket(AF_UNIX) returned\n");
  } else if (strcmp(name, "landlock-probe-trigger") == 0 && outside != NULL) {
    char line[512];
    int fd = open(outside, O_RDONLY | O_CLOEXEC);
    int err = errno;
    if (fd >= 0) close(fd);
    snprintf(line, sizeof line, "shim: open %s: %s\n", outside, fd >= 0 ? "ok" : strerror(err));
    say(line);
  }
}

int fstatat(int dirfd, const char* name, struct stat* st, int flags) {
  maybe_trigger(name);
  return real_fstatat(dirfd, name, st, flags);
}
