/* fakeapi.h -- starts tests/data/fakeapi/fakeapi.py for a test program and
 * talks to its control endpoints.
 *
 * The control calls are plain blocking HTTP/1.0 on their own socket, so a
 * test can load a script or read the request log from anywhere -- even
 * from inside a callback of the client under test -- without running the
 * event loop. The server's stdin is a pipe from us: it exits when we close
 * it or when the test process dies.
 */
#ifndef SB_FAKEAPI_H
#define SB_FAKEAPI_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "pyserver.h"

typedef struct fakeapi {
  pyserver py;
  int port;
  char base[64];        /* "http://127.0.0.1:PORT" */
} fakeapi;

/* Returns 0 once the server listens, -1 on failure (message on stderr). */
static inline int fakeapi_start(fakeapi *f) {
  memset(f, 0, sizeof(*f));
  if (pyserver_start(&f->py, "fake API server", "fakeapi/fakeapi.py", 30000,
                     NULL, NULL))
    return -1;
  f->port = f->py.port;
  snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
  return 0;
}

static inline void fakeapi_stop(fakeapi *f) {
  pyserver_stop(&f->py);
  memset(f, 0, sizeof(*f));
}

/* One blocking request; returns the response body (malloc'd, caller
 * frees) and its status in *code, or NULL on a transport failure. */
static inline char *fakeapi_call(const fakeapi *f, const char *method,
                                 const char *path, const char *body,
                                 int *code) {
  struct sockaddr_in a;
  size_t blen = body ? strlen(body) : 0, len = 0, cap = 4096;
  char head[512], *buf, *p;
  int fd;

  *code = 0;
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return NULL;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short) f->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *) &a, sizeof(a))) {
    close(fd);
    return NULL;
  }
  snprintf(head, sizeof(head), "%s %s HTTP/1.0\r\nHost: fake\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n", method, path,
           blen);
  if (write(fd, head, strlen(head)) < 0 ||
      (blen && write(fd, body, blen) != (ssize_t) blen)) {
    close(fd);
    return NULL;
  }
  buf = malloc(cap);
  for (;;) {
    ssize_t n;

    if (!buf)
      break;
    if (len + 1 == cap) {
      char *nb = realloc(buf, cap * 2);

      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    n = read(fd, buf + len, cap - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t) n;
  }
  close(fd);
  if (!buf)
    return NULL;
  buf[len] = '\0';
  if (sscanf(buf, "HTTP/%*s %d", code) != 1 ||
      !(p = strstr(buf, "\r\n\r\n"))) {
    free(buf);
    return NULL;
  }
  memmove(buf, p + 4, len - (size_t) (p + 4 - buf) + 1);
  return buf;
}

/* Loads a script ({"path": [steps]}); 0 or -1. */
static inline int fakeapi_script(const fakeapi *f, const char *json) {
  int code;
  char *r = fakeapi_call(f, "POST", "/_/script", json, &code);

  free(r);
  return r && code == 200 ? 0 : -1;
}

/* Loads tests/data/discovery/<file>; 0 or -1. */
static inline int fakeapi_discovery(const fakeapi *f, const char *file) {
  char path[256];
  int code;
  char *r;

  snprintf(path, sizeof(path), "/_/discovery?file=%s", file);
  r = fakeapi_call(f, "POST", path, "", &code);
  free(r);
  return r && code == 200 ? 0 : -1;
}

/* The request log as a JSON array (caller deletes), or NULL. */
static inline cJSON *fakeapi_requests(const fakeapi *f) {
  int code;
  char *r = fakeapi_call(f, "GET", "/_/requests", NULL, &code);
  cJSON *j = r && code == 200 ? cJSON_Parse(r) : NULL;

  free(r);
  return j;
}

#endif
