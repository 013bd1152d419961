/* kube-testsrv.h -- starts tests/data/kube/testserver.py for a test program.
 *
 * The server makes its own CA and certificates in a fresh temporary
 * directory, picks a free port and prints it; we wait for that line (no
 * fixed sleeps). Its stdin is a pipe from us, so it exits when we close it
 * or when the test process dies.
 */
#ifndef SB_KUBE_TESTSRV_H
#define SB_KUBE_TESTSRV_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyserver.h"

typedef struct testsrv {
  pyserver py;
  int port;
  char dir[256];
  char base[64];        /* "https://127.0.0.1:PORT" */
  char *ca, *other_ca, *cert, *key;
  size_t ca_len, other_ca_len, cert_len, key_len;
} testsrv;

static inline char *testsrv_slurp(const char *dir, const char *name, size_t *len) {
  char path[512];
  FILE *f;
  char *p;
  long n;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  p = malloc((size_t) n + 1);
  if (p && fread(p, 1, (size_t) n, f) != (size_t) n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) {
    p[n] = '\0';
    *len = (size_t) n;
  }
  return p;
}

/* Returns 0 once the server listens, -1 on failure (message on stderr). */
static inline int testsrv_start(testsrv *s) {
  memset(s, 0, sizeof(*s));
  snprintf(s->dir, sizeof(s->dir), "%s/sb-kube-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(s->dir))
    return -1;
  /* The server needs a moment for its keys; 60 s is a hang, not slowness. */
  if (pyserver_start(&s->py, "test server", "kube/testserver.py", 60000,
                     "--dir", s->dir))
    return -1;
  s->port = s->py.port;
  snprintf(s->base, sizeof(s->base), "https://127.0.0.1:%d", s->port);
  s->ca = testsrv_slurp(s->dir, "ca.crt", &s->ca_len);
  s->other_ca = testsrv_slurp(s->dir, "other-ca.crt", &s->other_ca_len);
  s->cert = testsrv_slurp(s->dir, "client.crt", &s->cert_len);
  s->key = testsrv_slurp(s->dir, "client.key", &s->key_len);
  return s->ca && s->other_ca && s->cert && s->key ? 0 : -1;
}

static inline int testsrv_rm(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
  (void) st;
  (void) flag;
  (void) ftw;
  return remove(path);
}

static inline void testsrv_stop(testsrv *s) {
  pyserver_stop(&s->py);
  free(s->ca);
  free(s->other_ca);
  free(s->cert);
  free(s->key);
  if (s->dir[0])
    nftw(s->dir, testsrv_rm, 8, FTW_DEPTH | FTW_PHYS);
  memset(s, 0, sizeof(*s));
}

/* A loopback port nobody listens on (bound, then released). */
static inline int testsrv_dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int port;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *) &a, sizeof(a));
  getsockname(fd, (struct sockaddr *) &a, &len);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

#endif
