/* http.h -- HTTP(S) requests on the event loop: one libcurl multi handle
 * driven by libuv (curl's multi-uv pattern).
 *
 * This is the transport under the Kubernetes client. It knows nothing about
 * Kubernetes: a request is a method, a URL, headers, an optional body and a
 * TLS configuration; the response is a status, a few headers and either a
 * buffered body (capped) or a stream of chunks handed to a data callback.
 *
 * Lifecycle (the libuv rules):
 *   - If sb_http_start() returns an error, no callback of that request is
 *     ever called. Otherwise its done callback is called exactly once,
 *     always from the event loop (never from inside sb_http_start or
 *     sb_http_cancel), also after sb_http_cancel (err SB_ECANCELED) and when
 *     the client is closed. The request pointer is valid until that
 *     callback returns and must not be used afterwards.
 *   - sb_http_close() completes every request with SB_ECANCELED, closes
 *     every uv handle it owns and then calls its callback; after that the
 *     loop has no live handle of this module.
 *   - Any function here may be called from any callback of this module
 *     (curl is never re-entered: work that needs curl is deferred to the
 *     loop).
 *
 * Connections (why the defaults are what they are): requests to one server
 * share HTTP/2 connections (ALPN "h2" over TLS, HTTP/1.1 otherwise). A
 * connection carries at most max_streams concurrent streams (the smaller of
 * this and the server's SETTINGS_MAX_CONCURRENT_STREAMS). When every stream
 * of every connection is busy -- say, long-lived watches -- curl opens one
 * more connection instead of queueing, because max_host_conns is unlimited
 * by default: a write is never stuck behind watches that do not end. New
 * requests wait for a connection being set up to learn whether it can
 * multiplex (CURLOPT_PIPEWAIT) rather than each opening its own.
 * Streamed requests (watches) share a connection of their own, apart
 * from the buffered ones (lists, writes): with libcurl 7.88 a response
 * multiplexed next to watch streams could stall until the next watch
 * event (see http.c); with curl's OpenSSL backend only.
 *
 * Stalled responses: a GET with stall_ms set whose response has begun
 * (headers or body bytes) and then receives nothing for stall_ms is
 * sent again, at most twice, on the same request: with libcurl 7.88 a
 * list page multiplexed next to another one could stop mid-body while
 * the server had sent it all, until the request's timeout (see http.c).
 *
 * Logging: each finished request logs method, path, status, protocol and
 * duration at SB_LOG_DEBUG. Header values, tokens, keys and certificates
 * are never logged.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct sb_http sb_http;
typedef struct sb_http_req sb_http_req;

typedef struct sb_http_config {
  long max_streams;     /* per HTTP/2 connection; 0 = 100 */
  long max_host_conns;  /* per host; 0 = unlimited (see above) */
  unsigned warn_quiet_ms;  /* a Warning header's text again within this
                              is logged at debug level; 0 = 10 minutes */
} sb_http_config;

/* cfg may be NULL for the defaults. */
int sb_http_new(uv_loop_t *loop, const sb_http_config *cfg, sb_http **out);

typedef void (*sb_http_close_cb)(void *arg);
/* Cancels every request (their done callbacks run, err SB_ECANCELED),
 * closes the handles and calls cb(arg) once the last one is closed; h is
 * freed before cb runs. Returns SB_ECLOSING when already closing (cb is
 * then not called). */
int sb_http_close(sb_http *h, sb_http_close_cb cb, void *arg);

/* TLS for one request. Blobs are PEM, copied by sb_http_start. With a CA
 * the system trust store is not used. server_name, when set, is the name
 * the server certificate is checked against (and sent as SNI) while the
 * connection still goes to the URL's host and port. */
typedef struct sb_http_tls {
  const char *ca;
  size_t ca_len;
  const char *cert;
  size_t cert_len;
  const char *key;
  size_t key_len;
  int insecure;              /* no peer or host name verification */
  const char *server_name;
} sb_http_tls;

typedef struct sb_http_resp {
  int err;                   /* 0, or the transport error (SB_E*) */
  const char *errmsg;        /* curl's one-line text for err, or "" */
  long status;               /* HTTP status; 0 when no response */
  int version;               /* 2 for HTTP/2, 1 for HTTP/1.x, 0 unknown */
  const char *content_type;  /* NULL when the response had none */
  long retry_after;          /* Retry-After in seconds, -1 when absent */
  /* The buffered body, NUL-terminated, "" when empty or streamed. Owned
   * by the request: valid during the callback only. */
  const char *body;
  size_t body_len;
  uint64_t duration_ms;
} sb_http_resp;

/* Streamed 2xx body chunk. Return 0 to go on, or a negative SB_E* to end
 * the request (its done callback then gets that error). */
typedef int (*sb_http_data_fn)(void *arg, const char *p, size_t n);
typedef void (*sb_http_done_fn)(void *arg, const sb_http_resp *resp);

typedef struct sb_http_opts {
  const char *method;        /* "GET", "POST", ...; required */
  const char *url;           /* absolute http(s) URL; required */
  const char *const *headers;  /* NULL-terminated "Name: value" list */
  const char *body;          /* copied; may be NULL */
  size_t body_len;
  const sb_http_tls *tls;    /* may be NULL */
  const char *token;         /* bearer token; sent, never logged */
  const char *proxy;         /* proxy URL, or NULL */
  unsigned connect_timeout_ms;  /* 0 = 10 s */
  unsigned timeout_ms;       /* whole request; 0 = none */
  unsigned idle_timeout_ms;  /* end with SB_ETIMEOUT when no byte arrives
                                this long; 0 = none. curl's low-speed
                                check: whole seconds, and after earlier
                                data it may notice a few seconds late */
  size_t max_body;           /* buffered body cap; 0 = 64 MiB; beyond it
                                the request ends with SB_ELIMIT */
  unsigned stall_ms;         /* GET, buffered: send again after a stall
                                this long (see above); 0 = never */
  /* When set, a 2xx body goes here chunk by chunk as it arrives (a watch)
   * and resp->body is empty. A non-2xx body is always buffered so that
   * the error can be decoded. */
  sb_http_data_fn on_data;
  sb_http_done_fn on_done;   /* required */
  void *arg;
} sb_http_opts;

/* Starts a request. Everything in o is copied. *req (may be NULL) is the
 * handle for sb_http_cancel. SB_EINVAL (missing method/url/on_done, bad
 * URL), SB_ENOMEM, SB_ECLOSING. */
int sb_http_start(sb_http *h, const sb_http_opts *o, sb_http_req **req);

/* Ends a request early: no data callback runs after this returns; its done
 * callback runs from the loop with err SB_ECANCELED (unless the request
 * had already completed by then, in which case it reports that). Only
 * valid before the done callback has run. */
void sb_http_cancel(sb_http_req *req);

/* Number of requests started and not yet completed. */
size_t sb_http_active(const sb_http *h);

#endif
