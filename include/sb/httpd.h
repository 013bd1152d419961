/* httpd.h -- a minimal HTTP/1.1 server for probes and metrics.
 *
 * Serves /healthz, /readyz and /metrics to kubelet and Prometheus: GET and
 * HEAD on exact paths, one request per connection (every response says
 * Connection: close), handlers that answer at once from the loop thread.
 * Nothing here is meant for the open internet, but everything from the
 * network is bounded all the same: the request head is capped (431), a
 * client has a fixed time to send its request and take the answer (408,
 * then the connection is dropped), and the number of connections is
 * capped (extra ones are closed on accept).
 *
 * Lifecycle: sb_httpd_new, sb_httpd_route for every path, sb_httpd_listen,
 * and sb_httpd_close(cb) at the end, which closes the listener and every
 * client connection and frees the server before cb runs.
 */
#ifndef SB_HTTPD_H
#define SB_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "sb/buf.h"

typedef struct sb_httpd sb_httpd;

typedef struct sb_httpd_req {
  const char *method;  /* "GET" or "HEAD" (others never reach a handler) */
  const char *path;    /* the request target up to '?', not decoded */
  const char *query;   /* what follows '?', "" when there is none */
} sb_httpd_req;

typedef struct sb_httpd_resp {
  int status;                /* 200 on entry; outside 100..599 sends 500 */
  const char *content_type;  /* "text/plain; charset=utf-8" on entry;
                                read before the handler's caller returns */
  sb_buf body;               /* empty on entry, capped at max_body_bytes;
                                HEAD requests get its length, not it */
} sb_httpd_resp;

/* Runs on the loop thread while the request's connection is read; req and
 * resp are valid only during the call. Must not close the server. */
typedef void (*sb_httpd_handler)(const sb_httpd_req *req,
                                 sb_httpd_resp *resp, void *data);
typedef void (*sb_httpd_close_cb)(void *data);

/* Zero means "the default" for every field. */
typedef struct sb_httpd_opts {
  size_t max_header_bytes;      /* request line + headers; default 8192 */
  uint64_t request_timeout_ms;  /* accept to response sent; default 10000 */
  size_t max_clients;           /* open connections; default 128 */
  size_t max_body_bytes;        /* response body cap; default 64 MiB */
} sb_httpd_opts;

/* opts may be NULL. 0, SB_EINVAL, SB_ENOMEM; *out is set on success. */
int sb_httpd_new(uv_loop_t *loop, const sb_httpd_opts *opts,
                 sb_httpd **out);

/* Serves `path` (exact match, starting with '/'; copied) with cb. Call
 * before or after listen. 0, SB_EINVAL, SB_EEXIST (path taken),
 * SB_ENOMEM. */
int sb_httpd_route(sb_httpd *h, const char *path, sb_httpd_handler cb,
                   void *data);

/* Starts listening on `addr`: ":8080" (every address, IPv6 and IPv4 when
 * the host has IPv6, else IPv4), "127.0.0.1:8080", "[::1]:8080",
 * "localhost:8080"; port 0 picks a free port (see sb_httpd_port). Host
 * names other than localhost are not resolved. Once only per server.
 * 0, SB_EINVAL (bad address, or already listening), SB_EIO (the socket
 * calls failed: address in use, permission). When err is not NULL it
 * receives a one-line reason ("listen 127.0.0.1:80: permission denied").
 * After a failure the server can still be closed, not listen again. */
int sb_httpd_listen(sb_httpd *h, const char *addr, char *err,
                    size_t errlen);

/* The bound port once listening, else -1. */
int sb_httpd_port(const sb_httpd *h);

/* Connections open right now. */
size_t sb_httpd_clients(const sb_httpd *h);

/* Stops listening, drops every connection (requests in progress get no
 * answer), frees the server, then calls cb(data) (cb may be NULL). A
 * second call is ignored. */
void sb_httpd_close(sb_httpd *h, sb_httpd_close_cb cb, void *data);

#endif
