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

typedef struct fakeapi {
  pid_t pid;
  int in_fd;
  int port;
  char base[64];        /* "http://127.0.0.1:PORT" */
} fakeapi;

/* Returns 0 once the server listens, -1 on failure (message on stderr). */
static inline int fakeapi_start(fakeapi *f) {
  int in[2], out[2];
  char line[128], script[1024];
  size_t used = 0;

  memset(f, 0, sizeof(*f));
  snprintf(script, sizeof(script), "%s/tests/data/fakeapi/fakeapi.py",
           SB_SOURCE_DIR);
  if (pipe(in) || pipe(out))
    return -1;
  f->pid = fork();
  if (f->pid < 0)
    return -1;
  if (f->pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execlp("python3", "python3", script, (char *) NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  f->in_fd = in[1];
  while (used < sizeof(line) - 1) {
    struct pollfd p = {out[0], POLLIN, 0};
    ssize_t n;

    if (poll(&p, 1, 30000) <= 0)
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
  if (sscanf(line, "PORT %d", &f->port) != 1) {
    fprintf(stderr, "fake API server did not start: '%s'\n", line);
    return -1;
  }
  snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->port);
  return 0;
}

static inline void fakeapi_stop(fakeapi *f) {
  int status;

  if (f->pid > 0) {
    close(f->in_fd);
    waitpid(f->pid, &status, 0);
  }
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
