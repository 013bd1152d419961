/* pyserver.h -- starts one of the Python test servers under tests/data/
 * for a test program (kube-testsrv.h, fakeapi.h).
 *
 * The server picks a free port and prints "PORT <n>"; we wait for that
 * line (no fixed sleeps). Its stdin is a pipe from us, so it exits when we
 * close it or when the test process dies.
 */
#ifndef SB_PYSERVER_H
#define SB_PYSERVER_H

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct pyserver {
  pid_t pid;
  int in_fd;
  int port;
} pyserver;

/* Runs `python3 SB_SOURCE_DIR/tests/data/<script> [arg...]` (args end with
 * NULL, at most 4) and waits up to wait_ms for its port. 0, or -1 with a
 * message on stderr naming `what`. */
static inline int pyserver_start(pyserver *s, const char *what,
                                 const char *script, int wait_ms,
                                 const char *arg1, const char *arg2) {
  int in[2], out[2];
  char line[128], path[1024];
  size_t used = 0;

  memset(s, 0, sizeof(*s));
  snprintf(path, sizeof(path), "%s/tests/data/%s", SB_SOURCE_DIR, script);
  if (pipe(in) || pipe(out))
    return -1;
  s->pid = fork();
  if (s->pid < 0)
    return -1;
  if (s->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execlp("python3", "python3", path, arg1, arg2, (char *) NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  s->in_fd = in[1];
  while (used < sizeof(line) - 1) {
    struct pollfd p = {out[0], POLLIN, 0};
    ssize_t n;

    if (poll(&p, 1, wait_ms) <= 0)
      break;
    n = read(out[0], line + used, sizeof(line) - 1 - used);
    if (n <= 0)
      break;
    used += (size_t) n;
    line[used] = '\0';
    if (strchr(line, '\n'))
      break;
  }
  close(out[0]);
  line[used] = '\0';
  if (sscanf(line, "PORT %d", &s->port) != 1) {
    fprintf(stderr, "%s did not start: '%s'\n", what, line);
    return -1;
  }
  return 0;
}

static inline void pyserver_stop(pyserver *s) {
  int status;

  if (s->pid > 0) {
    close(s->in_fd);
    waitpid(s->pid, &status, 0);
  }
  memset(s, 0, sizeof(*s));
}

#endif
