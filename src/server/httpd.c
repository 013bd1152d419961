/* httpd.c -- the probe and metrics HTTP server. See sb/httpd.h.
 *
 * One request per connection keeps the protocol work small: read until the
 * blank line that ends the head (into a buffer of max_header_bytes, so a
 * head that does not fit is a 431 and never an allocation), answer, and
 * close. A connection moves through four states:
 *
 *   READING   collecting the request head
 *   WRITING   the response is queued with uv_write
 *   LINGER    written and shut down for writing; waiting for the client's
 *             EOF before closing, because closing a socket with unread
 *             input makes the kernel send a reset that can destroy the
 *             response before the client has read it
 *   CLOSING   uv_close called on both handles; freed when both are closed
 *
 * Each connection has one timer, started at accept and not reset by
 * incoming bytes: a client that trickles its head in byte by byte still
 * gets 408 when the time is up. The timer is restarted for the write and
 * again (shorter) for the linger, so no connection lives unbounded.
 *
 * Anything read after the head (a body nobody asked for, more requests)
 * goes into one shared scratch buffer and is dropped.
 */
#include "sb/httpd.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/common.h"
#include "sb/err.h"

#define DEFAULT_HEADER_BYTES 8192
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_CLIENTS 128
#define DEFAULT_BODY_BYTES (64 * 1024 * 1024)
#define LINGER_MS 1000
#define DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"

enum { READING, WRITING, LINGER, CLOSING };

typedef struct client {
  sb_httpd *h;
  struct client *prev;
  struct client *next;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  int state;
  int open_handles;
  int head;            /* the request is a HEAD: no body in the answer */
  int eof;             /* the client has finished sending */
  char *in;            /* the request head, max_header_bytes */
  size_t inlen;
  sb_buf out;          /* the response head */
  sb_buf body;         /* the response body (the handler's, moved here) */
} client;

typedef struct route {
  char *path;
  sb_httpd_handler cb;
  void *data;
} route;

struct sb_httpd {
  uv_loop_t *loop;
  sb_httpd_opts opts;
  uv_tcp_t listener;   /* initialised in new, so close always has a
                          handle to wait for */
  int listen_tried;
  int port;
  route *routes;
  size_t nroutes;
  client *clients;     /* doubly linked, for close */
  size_t nclients;
  size_t pending;      /* handles (listener, clients) still closing */
  int closing;
  sb_httpd_close_cb close_cb;
  void *close_data;
  char scratch[4096];  /* discarded input lands here */
};

/* ---- server lifecycle -------------------------------------------------- */

int sb_httpd_new(uv_loop_t *loop, const sb_httpd_opts *opts,
                 sb_httpd **out) {
  sb_httpd *h;

  if (!loop || !out)
    return SB_EINVAL;
  h = calloc(1, sizeof(*h));
  if (!h)
    return SB_ENOMEM;
  if (opts)
    h->opts = *opts;
  if (!h->opts.max_header_bytes)
    h->opts.max_header_bytes = DEFAULT_HEADER_BYTES;
  if (!h->opts.request_timeout_ms)
    h->opts.request_timeout_ms = DEFAULT_TIMEOUT_MS;
  if (!h->opts.max_clients)
    h->opts.max_clients = DEFAULT_CLIENTS;
  if (!h->opts.max_body_bytes)
    h->opts.max_body_bytes = DEFAULT_BODY_BYTES;
  h->loop = loop;
  h->port = -1;
  uv_tcp_init(loop, &h->listener);
  h->listener.data = h;
  h->pending = 1;
  *out = h;
  return 0;
}

int sb_httpd_route(sb_httpd *h, const char *path, sb_httpd_handler cb,
                   void *data) {
  route *r;
  size_t i, n;

  if (!h || !path || path[0] != '/' || !cb || h->closing)
    return SB_EINVAL;
  for (i = 0; i < h->nroutes; i++)
    if (strcmp(h->routes[i].path, path) == 0)
      return SB_EEXIST;
  r = realloc(h->routes, (h->nroutes + 1) * sizeof(*r));
  if (!r)
    return SB_ENOMEM;
  h->routes = r;
  n = strlen(path) + 1;
  r[h->nroutes].path = malloc(n);
  if (!r[h->nroutes].path)
    return SB_ENOMEM;
  memcpy(r[h->nroutes].path, path, n);
  r[h->nroutes].cb = cb;
  r[h->nroutes].data = data;
  h->nroutes++;
  return 0;
}

int sb_httpd_port(const sb_httpd *h) {
  return h->port;
}

size_t sb_httpd_clients(const sb_httpd *h) {
  return h->nclients;
}

static void server_free(sb_httpd *h) {
  sb_httpd_close_cb cb = h->close_cb;
  void *data = h->close_data;
  size_t i;

  for (i = 0; i < h->nroutes; i++)
    free(h->routes[i].path);
  free(h->routes);
  free(h);
  if (cb)
    cb(data);
}

/* One more handle of the server's has finished closing. */
static void handle_gone(sb_httpd *h) {
  if (--h->pending == 0 && h->closing)
    server_free(h);
}

static void on_listener_closed(uv_handle_t *handle) {
  handle_gone(handle->data);
}

/* ---- connections ------------------------------------------------------- */

static void on_client_closed(uv_handle_t *handle) {
  client *c = handle->data;
  sb_httpd *h = c->h;

  if (--c->open_handles > 0)
    return;
  free(c->in);
  sb_buf_free(&c->out);
  sb_buf_free(&c->body);
  free(c);
  handle_gone(h);
}

static void client_close(client *c) {
  sb_httpd *h = c->h;

  if (c->state == CLOSING)
    return;
  c->state = CLOSING;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->clients = c->next;
  if (c->next)
    c->next->prev = c->prev;
  h->nclients--;
  uv_close((uv_handle_t *) &c->tcp, on_client_closed);
  uv_close((uv_handle_t *) &c->timer, on_client_closed);
}

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Unknown";
  }
}

static void on_timeout(uv_timer_t *t);

static void on_shutdown(uv_shutdown_t *req, int status) {
  client *c = req->data;

  if (c->state != CLOSING && status < 0)
    client_close(c);
}

static void on_write(uv_write_t *req, int status) {
  client *c = req->data;

  if (c->state == CLOSING)
    return;
  /* The client already sent its EOF: nothing unread, close at once. */
  if (status < 0 || c->eof) {
    client_close(c);
    return;
  }
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *) &c->tcp, on_shutdown) != 0) {
    client_close(c);
    return;
  }
  c->state = LINGER;
  uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
}

/* Queues the response -- this head and c->body -- and moves to WRITING.
 * `extra` is a header block ("Allow: GET, HEAD\r\n") or "". */
static void respond(client *c, int status, const char *ctype,
                    const char *extra) {
  uv_buf_t b[2];

  if (sb_buf_addf(&c->out,
                  "HTTP/1.1 %d %s\r\n"
                  "Content-Type: %s\r\n"
                  "Content-Length: %zu\r\n"
                  "Connection: close\r\n"
                  "%s\r\n",
                  status, reason(status), ctype, c->body.len, extra) != 0) {
    client_close(c);
    return;
  }
  c->state = WRITING;
  c->wreq.data = c;
  b[0] = uv_buf_init(c->out.data, (unsigned) c->out.len);
  b[1] = uv_buf_init(c->body.data, (unsigned) c->body.len);
  if (uv_write(&c->wreq, (uv_stream_t *) &c->tcp, b,
               c->head || c->body.len == 0 ? 1 : 2, on_write) != 0) {
    client_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, c->h->opts.request_timeout_ms, 0);
}

static void respond_error(client *c, int status, const char *extra) {
  sb_buf_reset(&c->body);
  if (sb_buf_addf(&c->body, "%d %s\n", status, reason(status)) != 0) {
    client_close(c);
    return;
  }
  respond(c, status, DEFAULT_CONTENT_TYPE, extra);
}

/* RFC 9110 token characters, for the method. */
static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Offset just past the blank line that ends the head, or 0 when it has
 * not arrived. Bare LF line ends are accepted, as most servers do. */
static size_t head_end(const char *p, size_t len, size_t from) {
  size_t i;

  for (i = from; i < len; i++) {
    if (p[i] != '\n')
      continue;
    if (i + 1 < len && p[i + 1] == '\n')
      return i + 2;
    if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

/* Checks the header lines between the request line and the blank line:
 * each needs a non-empty name before a colon and no leading whitespace
 * (obsolete line folding is refused, as RFC 9112 allows). */
static int headers_ok(char *p, char *end) {
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t) (end - p));
    char *colon;
    size_t n;

    if (!nl)
      return 0;
    n = (size_t) (nl - p);
    if (n > 0 && p[n - 1] == '\r')
      n--;
    if (n == 0)
      return 1;  /* the blank line */
    colon = memchr(p, ':', n);
    if (!colon || colon == p || p[0] == ' ' || p[0] == '\t')
      return 0;
    p = nl + 1;
  }
  return 0;
}

/* The head is complete in c->in[0..end): parse, route, answer. */
static void handle(client *c, size_t end) {
  sb_httpd *h = c->h;
  char *line = c->in, *nl, *sp1, *sp2, *version, *q, *p;
  sb_httpd_resp resp;
  sb_httpd_req req;
  const route *r = NULL;
  size_t i, n;

  nl = memchr(line, '\n', end);
  n = (size_t) (nl - line);
  if (n > 0 && line[n - 1] == '\r')
    n--;
  line[n] = '\0';
  sp1 = strchr(line, ' ');
  sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
  if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line ||
      sp2 == sp1 + 1 || !headers_ok(nl + 1, c->in + end)) {
    respond_error(c, 400, "");
    return;
  }
  *sp1 = '\0';
  *sp2 = '\0';
  version = sp2 + 1;
  for (p = line; *p; p++)
    if (!is_tchar((unsigned char) *p)) {
      respond_error(c, 400, "");
      return;
    }
  for (p = sp1 + 1; *p; p++)
    if ((unsigned char) *p <= 0x20 || (unsigned char) *p == 0x7f) {
      respond_error(c, 400, "");
      return;
    }
  if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0) {
    respond_error(c, strncmp(version, "HTTP/", 5) == 0 ? 505 : 400, "");
    return;
  }
  if (sp1[1] != '/') {
    respond_error(c, 400, "");
    return;
  }
  c->head = strcmp(line, "HEAD") == 0;
  if (!c->head && strcmp(line, "GET") != 0) {
    respond_error(c, 405, "Allow: GET, HEAD\r\n");
    return;
  }

  req.method = line;
  req.path = sp1 + 1;
  q = strchr(sp1 + 1, '?');
  if (q)
    *q++ = '\0';
  req.query = q ? q : "";
  for (i = 0; i < h->nroutes && !r; i++)
    if (strcmp(h->routes[i].path, req.path) == 0)
      r = &h->routes[i];
  if (!r) {
    respond_error(c, 404, "");
    return;
  }

  resp.status = 200;
  resp.content_type = DEFAULT_CONTENT_TYPE;
  sb_buf_init(&resp.body, h->opts.max_body_bytes);
  r->cb(&req, &resp, r->data);
  /* The body moves to the connection: no copy of a large exposition. */
  sb_buf_free(&c->body);
  c->body = resp.body;
  if (c->state == CLOSING)
    return;  /* the handler closed the server after all */
  if (resp.status < 100 || resp.status > 599)
    respond_error(c, 500, "");
  else
    respond(c, resp.status, resp.content_type ? resp.content_type
                                              : DEFAULT_CONTENT_TYPE, "");
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  client *c = handle->data;

  (void) suggested;
  if (c->state == READING) {
    buf->base = c->in + c->inlen;
    buf->len = c->h->opts.max_header_bytes - c->inlen;
  } else {
    buf->base = c->h->scratch;
    buf->len = sizeof(c->h->scratch);
  }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  client *c = stream->data;
  size_t old, end;

  (void) buf;
  if (c->state == CLOSING)
    return;
  if (nread < 0) {
    /* EOF while the answer is still being written is a client that
     * half-closed after its request: finish writing, then close. */
    if (nread == UV_EOF && c->state == WRITING) {
      c->eof = 1;
      uv_read_stop(stream);
      return;
    }
    client_close(c);
    return;
  }
  if (c->state != READING || nread == 0)
    return;
  old = c->inlen;
  c->inlen += (size_t) nread;
  end = head_end(c->in, c->inlen, old > 2 ? old - 2 : 0);
  if (end)
    handle(c, end);
  else if (c->inlen == c->h->opts.max_header_bytes)
    respond_error(c, 431, "");
}

static void on_timeout(uv_timer_t *t) {
  client *c = t->data;

  if (c->state == READING)
    respond_error(c, 408, "");
  else
    client_close(c);
}

static void on_connection(uv_stream_t *server, int status) {
  sb_httpd *h = server->data;
  client *c;

  if (status < 0 || h->closing)
    return;
  c = calloc(1, sizeof(*c));
  if (!c)
    return;  /* the connection waits in the backlog; retried next time */
  c->h = h;
  c->state = READING;
  sb_buf_init(&c->out, 4096);
  sb_buf_init(&c->body, h->opts.max_body_bytes);
  uv_tcp_init(h->loop, &c->tcp);
  uv_timer_init(h->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  c->next = h->clients;
  if (h->clients)
    h->clients->prev = c;
  h->clients = c;
  h->nclients++;
  h->pending++;
  if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0) {
    client_close(c);
    return;
  }
  /* Over the cap, or out of memory: accepted only to be closed, since a
   * connection left in the backlog would stall the listener. */
  if (h->nclients > h->opts.max_clients ||
      !(c->in = malloc(h->opts.max_header_bytes)) ||
      uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) != 0) {
    client_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, h->opts.request_timeout_ms, 0);
}

/* ---- listening --------------------------------------------------------- */

/* "host:port", "[v6]:port" or ":port" into *ss; *any when the host is
 * empty. 0 or SB_EINVAL. */
static int parse_addr(const char *addr, struct sockaddr_storage *ss,
                      int *any) {
  char host[64];
  const char *hs, *he, *ps;
  unsigned long port = 0;
  int v6 = 0, rc;
  size_t i;

  *any = 0;
  if (!addr)
    return SB_EINVAL;
  if (addr[0] == '[') {
    hs = addr + 1;
    he = strchr(hs, ']');
    if (!he || he[1] != ':')
      return SB_EINVAL;
    ps = he + 2;
    v6 = 1;
  } else {
    hs = addr;
    he = strrchr(addr, ':');
    if (!he || memchr(hs, ':', (size_t) (he - hs)))
      return SB_EINVAL;
    ps = he + 1;
  }
  if (!*ps || strlen(ps) > 5)
    return SB_EINVAL;
  for (i = 0; ps[i]; i++) {
    if (ps[i] < '0' || ps[i] > '9')
      return SB_EINVAL;
    port = port * 10 + (unsigned long) (ps[i] - '0');
  }
  if (port > 65535 || (size_t) (he - hs) >= sizeof(host))
    return SB_EINVAL;
  memcpy(host, hs, (size_t) (he - hs));
  host[he - hs] = '\0';

  memset(ss, 0, sizeof(*ss));
  if (!host[0] && !v6) {
    *any = 1;
    rc = uv_ip6_addr("::", (int) port, (struct sockaddr_in6 *) ss);
  } else if (v6) {
    rc = uv_ip6_addr(host, (int) port, (struct sockaddr_in6 *) ss);
  } else {
    rc = uv_ip4_addr(strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                     (int) port, (struct sockaddr_in *) ss);
  }
  return rc ? SB_EINVAL : 0;
}

int sb_httpd_listen(sb_httpd *h, const char *addr, char *err,
                    size_t errlen) {
  struct sockaddr_storage ss;
  int any, rc, len = (int) sizeof(ss);

  if (err && errlen)
    err[0] = '\0';
  if (h->closing || h->listen_tried) {
    if (err && errlen)
      snprintf(err, errlen, "listen %s: server already listening",
               addr ? addr : "(null)");
    return SB_EINVAL;
  }
  if (parse_addr(addr, &ss, &any) != 0) {
    if (err && errlen)
      snprintf(err, errlen, "listen %s: not an address like :8080, "
               "127.0.0.1:8080 or [::1]:8080", addr ? addr : "(null)");
    return SB_EINVAL;
  }
  h->listen_tried = 1;
  rc = uv_tcp_bind(&h->listener, (const struct sockaddr *) &ss, 0);
  if (rc == UV_EAFNOSUPPORT && any) {
    /* A host without IPv6: the wildcard address is IPv4's. */
    uv_ip4_addr("0.0.0.0", ntohs(((struct sockaddr_in6 *) &ss)->sin6_port),
                (struct sockaddr_in *) &ss);
    rc = uv_tcp_bind(&h->listener, (const struct sockaddr *) &ss, 0);
  }
  if (rc == 0)
    rc = uv_listen((uv_stream_t *) &h->listener, SOMAXCONN, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&h->listener, (struct sockaddr *) &ss, &len);
  if (rc) {
    if (err && errlen)
      snprintf(err, errlen, "listen %s: %s", addr, uv_strerror(rc));
    return SB_EIO;
  }
  h->port = ntohs(ss.ss_family == AF_INET6
                      ? ((struct sockaddr_in6 *) &ss)->sin6_port
                      : ((struct sockaddr_in *) &ss)->sin_port);
  return 0;
}

void sb_httpd_close(sb_httpd *h, sb_httpd_close_cb cb, void *data) {
  if (h->closing)
    return;
  h->closing = 1;
  h->close_cb = cb;
  h->close_data = data;
  /* The listener first, so that no connection arrives once the first
   * client has seen its connection drop. */
  uv_close((uv_handle_t *) &h->listener, on_listener_closed);
  while (h->clients)
    client_close(h->clients);
}
