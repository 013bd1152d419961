/* http.c -- libcurl's multi interface driven by a libuv loop.
 *
 * curl tells us which sockets to watch (socket callback) and when to wake
 * it (timer callback); we turn those into one uv_poll_t per socket and one
 * uv_timer_t, and feed readiness back with curl_multi_socket_action. After
 * every call into curl the finished transfers are drained from
 * curl_multi_info_read, whatever the number of running handles.
 *
 * curl must not be re-entered from its own callbacks, and user callbacks
 * (data, done) may start or cancel requests or close the client. So
 * sb_http_start and sb_http_cancel only record what is wanted and arm a
 * zero-delay "defer" timer; the curl_multi_add/remove_handle calls happen in
 * that timer's callback, outside any curl callback. Closing works the same
 * way. Every request sits on one list in start order, which is what the
 * defer pass and close walk.
 *
 * Streamed requests (watches) use an HTTP/2 connection of their own,
 * shared among them; everything else (lists, gets, writes) shares
 * another. With libcurl 7.88 (Debian 12's), a list page multiplexed next
 * to watch streams could stop mid-response: the API server sent nothing
 * more, the socket had nothing to read, and the page completed only when
 * the next watch bookmark arrived on the connection, about a minute
 * later (startup with 20,000 pods: 60 s instead of 3 s in most runs;
 * nudging curl with socket actions or curl_multi_perform did not help,
 * separate connections did, every time). curl has no option to pick a
 * connection, but it only multiplexes over connections whose TLS
 * settings match, so streams name OpenSSL's default cipher list
 * explicitly ("DEFAULT", what an unset list means): the same ciphers, a
 * separate connection. Other TLS backends keep sharing one connection.
 * Apart from the workaround, it keeps a burst of writes and the event
 * streams out of each other's flow-control windows.
 *
 * Two list pages in flight on one connection stalled the same way: one
 * stopped after its first tens of kilobytes, which the API server had
 * logged as served in milliseconds, until curl's 60 s timeout (a
 * controller start against 3,000 Services and 1,000 splits: about one
 * start in a hundred; six concurrent pages on a new client: 14 rounds
 * of 300). Socket actions on every connection every 250 ms did not free
 * them (10 of 300). List pages over HTTP/1.1 never stalled, but the extra
 * TLS handshakes doubled the controller's start-up. So a GET may ask to
 * be watched (stall_ms): the stall timer looks at the watched requests
 * every STALL_TICK_MS, and one whose response began and then went quiet
 * for stall_ms is taken off curl and handed to it again -- a new stream,
 * the same request -- at most MAX_RESENDS times.
 */
#include "sb/http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "sb/buf.h"
#include "sb/common.h"
#include "sb/err.h"
#include "sb/hmap.h"
#include "sb/log.h"

#define DEFAULT_MAX_BODY ((size_t) 64 * 1024 * 1024)
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_STREAMS 100
#define STALL_TICK_MS 250
#define MAX_RESENDS 2
#define WARN_SEEN 64                       /* distinct warnings remembered */
#define WARN_QUIET_MS (10u * 60u * 1000u)  /* repeats at debug level for */

enum req_state { REQ_PENDING, REQ_ACTIVE };

struct sb_http_req {
  sb_http *h;
  struct sb_http_req *prev, *next;  /* h->reqs, start order */
  enum req_state state;
  int canceled;
  int abort_err;          /* why a callback made curl stop */
  unsigned stall_ms;      /* send again after this long quiet; 0 = no */
  uint64_t heard_ms;      /* last header or body bytes; 0 = none yet */
  int resends;
  CURL *easy;
  struct curl_slist *headers;
  struct curl_slist *connect_to;
  char *body;             /* request body copy */
  char *method;
  char *path;             /* for the log line */
  sb_buf resp;            /* buffered response body */
  long retry_after;
  sb_http_data_fn on_data;
  sb_http_done_fn on_done;
  void *arg;
  uint64_t start_ms;
  char errbuf[CURL_ERROR_SIZE];
};

struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  int events;             /* UV_READABLE|UV_WRITABLE being polled for */
  sb_http *h;
  struct sock_ctx *prev, *next;   /* h->socks, so close finds them all */
};

struct sb_http {
  uv_loop_t *loop;
  CURLM *multi;
  int stream_conn;        /* streams get their own connection (OpenSSL) */
  int gzip;               /* libcurl decodes gzip responses */
  struct {                /* warnings logged lately (log_warning) */
    uint64_t hash, at_ms;
  } warned[WARN_SEEN];
  unsigned warned_next;
  uint64_t warn_quiet_ms;
  uv_timer_t timer;       /* curl's timeout */
  uv_timer_t defer;       /* add/cancel/close outside curl callbacks */
  uv_timer_t stall;       /* runs while a request has stall_ms */
  struct sb_http_req *head, *tail;
  struct sock_ctx *socks;
  size_t nreqs;
  int closing;
  int open_handles;       /* uv handles not yet closed */
  sb_http_close_cb close_cb;
  void *close_arg;
};

static int global_refs;

static void drain(sb_http *h);
static void kick(sb_http *h);

/* ---- requests -------------------------------------------------------- */

static void req_unlink(sb_http_req *r) {
  sb_http *h = r->h;

  if (r->prev)
    r->prev->next = r->next;
  else
    h->head = r->next;
  if (r->next)
    r->next->prev = r->prev;
  else
    h->tail = r->prev;
  r->prev = r->next = NULL;
  h->nreqs--;
}

static void req_free(sb_http_req *r) {
  if (r->easy)
    curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  curl_slist_free_all(r->connect_to);
  free(r->body);
  free(r->method);
  free(r->path);
  sb_buf_free(&r->resp);
  free(r);
}

static int map_curl_error(CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return 0;
  case CURLE_OUT_OF_MEMORY:
    return SB_ENOMEM;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
    return SB_ECONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return SB_ETIMEOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
    return SB_ETLS;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return SB_EINVAL;
  case CURLE_ABORTED_BY_CALLBACK:
    return SB_ECANCELED;
  default:
    return SB_EIO;
  }
}

/* Completes a request: unlinks it, calls its done callback once, frees it.
 * curl must already have forgotten the easy handle. */
static void req_complete(sb_http_req *r, int err, const char *errmsg) {
  sb_http *h = r->h;
  sb_http_resp resp;
  long status = 0, ver = 0;
  const char *ct = NULL;

  memset(&resp, 0, sizeof(resp));
  if (r->easy) {
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(r->easy, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(r->easy, CURLINFO_CONTENT_TYPE, &ct);
  }
  resp.err = err;
  resp.errmsg = errmsg ? errmsg : "";
  resp.status = status;
  resp.version = ver == CURL_HTTP_VERSION_2_0 ? 2 :
                 ver == CURL_HTTP_VERSION_1_1 || ver == CURL_HTTP_VERSION_1_0
                 ? 1 : 0;
  resp.content_type = ct;
  resp.retry_after = r->retry_after;
  resp.body = sb_buf_cstr(&r->resp);
  resp.body_len = r->resp.len;
  resp.duration_ms = uv_now(h->loop) - r->start_ms;

  sb_log(SB_LOG_DEBUG, "http request", "method=%s path=%s status=%ld "
         "proto=%s ms=%llu err=%s", r->method, r->path, status,
         resp.version == 2 ? "HTTP/2" : resp.version == 1 ? "HTTP/1.1" : "-",
         (unsigned long long) resp.duration_ms,
         err ? sb_err_name(err) : "none");

  req_unlink(r);
  r->on_done(r->arg, &resp);
  req_free(r);
}

/* curl callbacks: never call curl_multi_* (or user code that could) here
 * except the data callback, whose callers may only use this module's
 * deferred API. */
static size_t on_write(char *p, size_t size, size_t n, void *arg) {
  sb_http_req *r = arg;
  size_t len = size * n;
  long status = 0;
  int rc;

  if (r->canceled)
    return CURL_WRITEFUNC_ERROR;
  r->heard_ms = uv_now(r->h->loop);
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  if (r->on_data && status >= 200 && status < 300) {
    rc = r->on_data(r->arg, p, len);
    if (rc == 0 && !r->canceled)
      return len;
    r->abort_err = rc ? rc : SB_ECANCELED;
    return CURL_WRITEFUNC_ERROR;
  }
  rc = sb_buf_add(&r->resp, p, len);
  if (rc) {
    r->abort_err = rc;
    return CURL_WRITEFUNC_ERROR;
  }
  return len;
}

/* A Warning header (RFC 7234 section 5.5): `299 - "text"`. The API server
 * sends one for each problem it let pass -- a field it did not know and
 * dropped, a duplicate field, a deprecated API version -- and the request
 * still succeeds, so this log line is the only place they show. The same
 * text again within warn_quiet_ms (WARN_QUIET_MS unless configured) goes
 * to the debug level: every apply of an object the server finds fault
 * with would repeat it. */
static void log_warning(const sb_http_req *r, const char *v, size_t n) {
  sb_http *h = r->h;
  const char *end = v + n, *q;
  char text[512];
  size_t o = 0, i;
  uint64_t hash, now = uv_now(h->loop);
  int level = SB_LOG_WARN;

  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                     end[-1] == '\t'))
    end--;
  q = memchr(v, '"', (size_t) (end - v));
  if (q) {
    /* warn-code warn-agent "warn-text": the text, unescaped */
    for (q++; q < end && *q != '"' && o < sizeof(text) - 1; q++) {
      if (*q == '\\' && q + 1 < end)
        q++;
      text[o++] = *q;
    }
  } else {
    while (v < end && o < sizeof(text) - 1)
      text[o++] = *v++;
  }
  /* Cut short: end before the last (maybe partial) character, so the
   * log stays UTF-8. */
  if (o == sizeof(text) - 1) {
    while (o > 0 && ((unsigned char) text[o - 1] & 0xC0) == 0x80)
      o--;
    if (o > 0 && ((unsigned char) text[o - 1] & 0xC0) == 0xC0)
      o--;
  }
  text[o] = '\0';

  /* A text seen lately is quiet; one seen long ago is refreshed in its
   * slot; a new one takes the oldest slot (at_ms 0 marks a free one). */
  hash = sb_hash(text, o);
  for (i = 0; i < WARN_SEEN; i++)
    if (h->warned[i].at_ms && h->warned[i].hash == hash)
      break;
  if (i < WARN_SEEN && now - h->warned[i].at_ms < h->warn_quiet_ms) {
    level = SB_LOG_DEBUG;
  } else {
    if (i == WARN_SEEN) {
      i = h->warned_next;
      h->warned_next = (h->warned_next + 1) % WARN_SEEN;
    }
    h->warned[i].hash = hash;
    h->warned[i].at_ms = now ? now : 1;
  }
  sb_log(level, "API server warning", "method=%s path=%s warning=%s",
         r->method, r->path, text);
}

/* Header lines of the final response (a new status line starts over, so
 * informational responses leave nothing behind). */
static size_t on_header(char *p, size_t size, size_t n, void *arg) {
  sb_http_req *r = arg;
  size_t len = size * n;

  r->heard_ms = uv_now(r->h->loop);
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    r->retry_after = -1;
  } else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
    const char *v = p + 12, *end = p + len;
    long secs = 0;
    int digits = 0;

    while (v < end && (*v == ' ' || *v == '\t'))
      v++;
    while (v < end && isdigit((unsigned char) *v) && secs < 86400) {
      secs = secs * 10 + (*v++ - '0');
      digits = 1;
    }
    /* An HTTP date instead of seconds: take "soon" rather than parse. */
    r->retry_after = digits ? secs : 1;
  } else if (len > 8 && strncasecmp(p, "Warning:", 8) == 0) {
    log_warning(r, p + 8, len - 8);
  }
  return len;
}

/* ---- sockets and timer: the multi-uv glue ---------------------------- */

static void handle_gone(sb_http *h);

static void sock_closed(uv_handle_t *handle) {
  struct sock_ctx *c = handle->data;
  sb_http *h = c->h;

  free(c);
  handle_gone(h);
}

static void sock_close(struct sock_ctx *c) {
  sb_http *h = c->h;

  if (c->prev)
    c->prev->next = c->next;
  else
    h->socks = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  uv_close((uv_handle_t *) &c->poll, sock_closed);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  struct sock_ctx *c = p->data;
  sb_http *h = c->h;
  int flags = 0, running = 0;

  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if (events & UV_READABLE)
      flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
      flags |= CURL_CSELECT_OUT;
  }
  curl_multi_socket_action(h->multi, c->fd, flags, &running);
  drain(h);
}

static int on_socket(CURL *easy, curl_socket_t s, int action, void *userp,
                     void *socketp) {
  sb_http *h = userp;
  struct sock_ctx *c = socketp;
  int events = 0, rc;

  (void) easy;
  if (action == CURL_POLL_REMOVE) {
    if (c) {
      uv_poll_stop(&c->poll);
      curl_multi_assign(h->multi, s, NULL);
      sock_close(c);
    }
    return 0;
  }
  if (!c) {
    c = calloc(1, sizeof(*c));
    if (!c) {
      sb_log(SB_LOG_ERROR, "http: out of memory for a socket", "fd=%d",
             (int) s);
      return -1;
    }
    rc = uv_poll_init_socket(h->loop, &c->poll, s);
    if (rc) {
      sb_log(SB_LOG_ERROR, "http: cannot poll socket", "fd=%d error=%s",
             (int) s, uv_strerror(rc));
      free(c);
      return -1;
    }
    c->fd = s;
    c->h = h;
    c->poll.data = c;
    c->next = h->socks;
    if (h->socks)
      h->socks->prev = c;
    h->socks = c;
    h->open_handles++;
    curl_multi_assign(h->multi, s, c);
  }
  if (action == CURL_POLL_IN || action == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  /* curl repeats an action when one transfer of a multiplexed connection
   * changes its mind while the connection's sum stays the same. Restarting
   * a uv_poll_t is not free: libuv removes the descriptor from epoll and
   * adds it back on the next loop turn (two or three system calls), which
   * during a burst of writes was most of the controller's epoll_ctl
   * calls. */
  if (events == c->events && uv_is_active((uv_handle_t *) &c->poll))
    return 0;
  rc = uv_poll_start(&c->poll, events, on_poll);
  if (rc)
    sb_log(SB_LOG_ERROR, "http: cannot poll socket", "fd=%d error=%s",
           (int) s, uv_strerror(rc));
  c->events = rc ? 0 : events;
  return 0;
}

static void on_timer(uv_timer_t *t) {
  sb_http *h = t->data;
  int running = 0;

  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  drain(h);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
  sb_http *h = userp;

  (void) multi;
  if (timeout_ms < 0) {
    uv_timer_stop(&h->timer);
    return 0;
  }
  /* 0 means "now", but acting now would re-enter curl from inside this
   * callback: one millisecond later is close enough. */
  if (timeout_ms == 0)
    timeout_ms = 1;
  uv_timer_start(&h->timer, on_timer, (uint64_t) timeout_ms, 0);
  return 0;
}

/* Completes every transfer curl reports as done. */
static void drain(sb_http *h) {
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read(h->multi, &left))) {
    sb_http_req *r = NULL;
    CURLcode rc;
    int err;

    if (msg->msg != CURLMSG_DONE)
      continue;
    rc = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
    curl_multi_remove_handle(h->multi, msg->easy_handle);
    if (!r)
      continue;
    if (r->canceled)
      err = SB_ECANCELED;
    else if (rc == CURLE_WRITE_ERROR && r->abort_err)
      err = r->abort_err;
    else
      err = map_curl_error(rc);
    req_complete(r, err, err && r->errbuf[0] ? r->errbuf :
                 err ? (r->abort_err ? sb_strerror(err) :
                        curl_easy_strerror(rc)) : "");
  }
}

/* ---- deferred work ------------------------------------------------------ */

static void finish_close(sb_http *h);
static void on_stall_tick(uv_timer_t *t);

static void on_defer(uv_timer_t *t) {
  sb_http *h = t->data;
  sb_http_req *r;
  CURLMcode mc;

again:
  for (r = h->head; r; r = r->next) {
    if (h->closing || r->canceled) {
      /* Completion runs user code that may change the list: restart. */
      if (r->state == REQ_ACTIVE)
        curl_multi_remove_handle(h->multi, r->easy);
      req_complete(r, SB_ECANCELED, "canceled");
      goto again;
    }
    if (r->state == REQ_PENDING) {
      r->start_ms = uv_now(h->loop);
      mc = curl_multi_add_handle(h->multi, r->easy);
      if (mc != CURLM_OK) {
        req_complete(r, mc == CURLM_OUT_OF_MEMORY ? SB_ENOMEM : SB_EIO,
                     curl_multi_strerror(mc));
        goto again;
      }
      r->state = REQ_ACTIVE;
      if (r->stall_ms && !uv_is_active((uv_handle_t *) &h->stall))
        uv_timer_start(&h->stall, on_stall_tick, STALL_TICK_MS,
                       STALL_TICK_MS);
    }
  }
  if (h->closing)
    finish_close(h);
}

/* Sends a watched request again once its response has gone quiet (see
 * the top of the file); stops when no watched request is with curl. */
static void on_stall_tick(uv_timer_t *t) {
  sb_http *h = t->data;
  sb_http_req *r;
  uint64_t now = uv_now(h->loop);
  int watched = 0;

  for (r = h->head; r; r = r->next) {
    if (r->state != REQ_ACTIVE || !r->stall_ms || r->canceled)
      continue;
    watched = 1;
    if (!r->heard_ms || now - r->heard_ms < r->stall_ms ||
        r->resends >= MAX_RESENDS)
      continue;
    sb_log(SB_LOG_INFO, "http response stalled; sending the request again",
           "method=%s path=%s quiet_ms=%llu bytes=%zu", r->method, r->path,
           (unsigned long long) (now - r->heard_ms), r->resp.len);
    curl_multi_remove_handle(h->multi, r->easy);
    sb_buf_reset(&r->resp);
    r->heard_ms = 0;
    r->resends++;
    r->state = REQ_PENDING;
    kick(h);
  }
  if (!watched)
    uv_timer_stop(t);
}

static void kick(sb_http *h) {
  if (!uv_is_active((uv_handle_t *) &h->defer))
    uv_timer_start(&h->defer, on_defer, 0, 0);
}

/* ---- public API -------------------------------------------------------- */

int sb_http_new(uv_loop_t *loop, const sb_http_config *cfg, sb_http **out) {
  sb_http *h;
  long streams = cfg && cfg->max_streams > 0 ? cfg->max_streams
                                              : DEFAULT_MAX_STREAMS;
  long conns = cfg && cfg->max_host_conns > 0 ? cfg->max_host_conns : 0;

  *out = NULL;
  if (global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return SB_ENOMEM;
  global_refs++;
  h = calloc(1, sizeof(*h));
  if (!h)
    goto fail;
  h->loop = loop;
  h->warn_quiet_ms = cfg && cfg->warn_quiet_ms ? cfg->warn_quiet_ms
                                               : WARN_QUIET_MS;
  h->multi = curl_multi_init();
  if (!h->multi)
    goto fail;
  {
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    h->stream_conn = v && v->ssl_version &&
                     strncmp(v->ssl_version, "OpenSSL/", 8) == 0;
    /* A libcurl built without zlib fails a gzip response instead of
     * passing it through, so only ask for gzip when it can decode it. */
    h->gzip = v && (v->features & CURL_VERSION_LIBZ);
  }
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(h->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, streams);
  curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
  uv_timer_init(loop, &h->timer);
  uv_timer_init(loop, &h->defer);
  uv_timer_init(loop, &h->stall);
  h->timer.data = h;
  h->defer.data = h;
  h->stall.data = h;
  h->open_handles = 3;
  *out = h;
  return 0;

fail:
  free(h);
  if (--global_refs == 0)
    curl_global_cleanup();
  return SB_ENOMEM;
}

/* Called once per closed uv handle; the last one frees the client. */
static void handle_gone(sb_http *h) {
  sb_http_close_cb cb;
  void *arg;

  if (--h->open_handles > 0)
    return;
  cb = h->close_cb;
  arg = h->close_arg;
  free(h);
  if (--global_refs == 0)
    curl_global_cleanup();
  if (cb)
    cb(arg);
}

static void on_handle_closed(uv_handle_t *handle) {
  handle_gone(handle->data);
}

/* Runs from the defer timer once every request is completed. */
static void finish_close(sb_http *h) {
  if (!h->multi)
    return;
  /* Closing the connection cache tells us (CURL_POLL_REMOVE) about most
   * sockets; whatever is left is closed by hand below. */
  curl_multi_cleanup(h->multi);
  h->multi = NULL;
  while (h->socks) {
    uv_poll_stop(&h->socks->poll);
    sock_close(h->socks);
  }
  uv_close((uv_handle_t *) &h->timer, on_handle_closed);
  uv_close((uv_handle_t *) &h->defer, on_handle_closed);
  uv_close((uv_handle_t *) &h->stall, on_handle_closed);
}

int sb_http_close(sb_http *h, sb_http_close_cb cb, void *arg) {
  if (h->closing)
    return SB_ECLOSING;
  h->closing = 1;
  h->close_cb = cb;
  h->close_arg = arg;
  kick(h);
  return 0;
}

size_t sb_http_active(const sb_http *h) {
  return h->nreqs;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p)
    memcpy(p, s, n);
  return p;
}

/* The path and query of a URL, for the log line. */
static char *url_path(const char *url) {
  const char *p = strstr(url, "://");

  p = p ? strchr(p + 3, '/') : NULL;
  return dup_str(p ? p : "/");
}

/* Points the URL's host at the TLS server name and dials the real host and
 * port instead (CURLOPT_CONNECT_TO), so certificate checks and SNI use the
 * name while the connection goes where the config says. */
static int set_server_name(sb_http_req *r, const char *url,
                           const char *name) {
  CURLU *u = curl_url();
  char *host = NULL, *port = NULL, *newurl = NULL;
  sb_buf line;
  int rc = SB_EINVAL;

  sb_buf_init(&line, 4096);
  if (!u)
    return SB_ENOMEM;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
          CURLUE_OK)
    goto out;
  if (curl_url_set(u, CURLUPART_HOST, name, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_URL, &newurl, 0) != CURLUE_OK)
    goto out;
  /* "name:port:host:port"; an IPv6 host keeps its brackets. */
  rc = sb_buf_addf(&line, "%s:%s:%s:%s", name, port, host, port);
  if (rc)
    goto out;
  rc = SB_ENOMEM;
  r->connect_to = curl_slist_append(NULL, sb_buf_cstr(&line));
  if (!r->connect_to)
    goto out;
  curl_easy_setopt(r->easy, CURLOPT_CONNECT_TO, r->connect_to);
  rc = curl_easy_setopt(r->easy, CURLOPT_URL, newurl) == CURLE_OK
           ? 0 : SB_ENOMEM;
out:
  curl_free(host);
  curl_free(port);
  curl_free(newurl);
  curl_url_cleanup(u);
  sb_buf_free(&line);
  return rc;
}

static int set_blob(CURL *easy, CURLoption opt, const char *p, size_t n) {
  struct curl_blob blob;

  blob.data = (void *) p;
  blob.len = n;
  blob.flags = CURL_BLOB_COPY;
  return curl_easy_setopt(easy, opt, &blob) == CURLE_OK ? 0 : SB_ENOMEM;
}

static int set_tls(sb_http_req *r, const sb_http_tls *t) {
  CURL *e = r->easy;
  int rc = 0;

  if (t->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (t->ca && t->ca_len) {
    /* Only this CA: a cluster's trust must not widen to the system's. */
    curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    rc = set_blob(e, CURLOPT_CAINFO_BLOB, t->ca, t->ca_len);
  }
  if (!rc && t->cert && t->cert_len) {
    curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
    rc = set_blob(e, CURLOPT_SSLCERT_BLOB, t->cert, t->cert_len);
  }
  if (!rc && t->key && t->key_len) {
    curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    rc = set_blob(e, CURLOPT_SSLKEY_BLOB, t->key, t->key_len);
  }
  return rc;
}

static int add_header(sb_http_req *r, const char *line) {
  struct curl_slist *l = curl_slist_append(r->headers, line);

  if (!l)
    return SB_ENOMEM;
  r->headers = l;
  return 0;
}

static int setup_easy(sb_http_req *r, const sb_http_opts *o) {
  CURL *e = r->easy;
  const char *const *hp;
  int rc = 0;

  curl_easy_setopt(e, CURLOPT_PRIVATE, (char *) r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  /* Streams on a connection of their own (see the top of the file). */
  if (o->on_data && r->h->stream_conn)
    curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, "DEFAULT");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* gzip only for buffered bodies: the API server compresses a watch
   * stream flush by flush into concatenated gzip members, which curl
   * (7.88) rejects after the first one; an event stream is small and
   * steady anyway. Large lists are where compression pays. */
  if (!o->on_data && r->h->gzip)
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  /* A proxy's CONNECT response is not the API server's: keep its headers
   * (a Warning among them) away from on_header. */
  curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   (long) (o->connect_timeout_ms ? o->connect_timeout_ms
                                                 : DEFAULT_CONNECT_TIMEOUT_MS));
  if (o->timeout_ms)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) o->timeout_ms);
  if (o->idle_timeout_ms) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     (long) ((o->idle_timeout_ms + 999) / 1000));
  }
  if (curl_easy_setopt(e, CURLOPT_URL, o->url) != CURLE_OK)
    return SB_EINVAL;
  if (o->body && o->body_len) {
    /* A body: POST mechanics, whatever the method is called. */
    r->body = malloc(o->body_len);
    if (!r->body)
      return SB_ENOMEM;
    memcpy(r->body, o->body, o->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t) o->body_len);
    if (strcmp(o->method, "POST") != 0)
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  } else if (strcmp(o->method, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (strcmp(o->method, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (strcmp(o->method, "POST") == 0) {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
  }
  /* curl adds "Expect: 100-continue" to large bodies; the API server
   * answers at once, so the round trip is pure delay. */
  rc = add_header(r, "Expect:");
  for (hp = o->headers; !rc && hp && *hp; hp++)
    rc = add_header(r, *hp);
  if (!rc && o->token) {
    sb_buf auth;

    sb_buf_init(&auth, 64 * 1024);
    rc = sb_buf_addf(&auth, "Authorization: Bearer %s", o->token);
    if (!rc)
      rc = add_header(r, sb_buf_cstr(&auth));
    sb_buf_free(&auth);
  }
  if (rc)
    return rc;
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  if (o->proxy && *o->proxy &&
      curl_easy_setopt(e, CURLOPT_PROXY, o->proxy) != CURLE_OK)
    return SB_ENOMEM;
  if (o->tls) {
    rc = set_tls(r, o->tls);
    if (!rc && o->tls->server_name && *o->tls->server_name)
      rc = set_server_name(r, o->url, o->tls->server_name);
  }
  return rc;
}

int sb_http_start(sb_http *h, const sb_http_opts *o, sb_http_req **out) {
  sb_http_req *r;
  int rc;

  if (out)
    *out = NULL;
  if (h->closing)
    return SB_ECLOSING;
  if (!o || !o->method || !*o->method || !o->url || !o->on_done)
    return SB_EINVAL;
  if (strncmp(o->url, "https://", 8) && strncmp(o->url, "http://", 7))
    return SB_EINVAL;
  r = calloc(1, sizeof(*r));
  if (!r)
    return SB_ENOMEM;
  r->h = h;
  r->retry_after = -1;
  r->on_data = o->on_data;
  /* Only a GET is safe to send twice; a stream may be quiet for good. */
  if (!o->on_data && strcmp(o->method, "GET") == 0)
    r->stall_ms = o->stall_ms;
  r->on_done = o->on_done;
  r->arg = o->arg;
  sb_buf_init(&r->resp, o->max_body ? o->max_body : DEFAULT_MAX_BODY);
  r->method = dup_str(o->method);
  r->path = url_path(o->url);
  r->easy = curl_easy_init();
  rc = !r->method || !r->path || !r->easy ? SB_ENOMEM : setup_easy(r, o);
  if (rc) {
    req_free(r);
    return rc;
  }
  r->state = REQ_PENDING;
  r->start_ms = uv_now(h->loop);
  r->prev = h->tail;
  if (h->tail)
    h->tail->next = r;
  else
    h->head = r;
  h->tail = r;
  h->nreqs++;
  kick(h);
  if (out)
    *out = r;
  return 0;
}

void sb_http_cancel(sb_http_req *r) {
  if (r->canceled)
    return;
  r->canceled = 1;
  kick(r->h);
}
