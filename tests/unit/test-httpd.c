/* test-httpd.c -- the probe/metrics HTTP server, through real TCP.
 *
 * The server runs on a libuv loop in the test's thread; clients are plain
 * blocking sockets in a second thread, so the bytes on the wire are
 * exactly what the test wrote. The client thread only records what it
 * got; assertions run after it has been joined. When the client thread is
 * done it wakes the loop with an async handle, which closes the server;
 * every test then checks that the loop closes cleanly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "sb/err.h"
#include "sb/httpd.h"
#include "sb/metrics.h"

/* ---- client side (runs in the client thread) --------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static int connect_to(int port) {
  struct sockaddr_in sin;
  struct timeval tv = {5, 0};
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  if (fd < 0)
    return -1;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t) port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t) w;
  }
  return 0;
}

/* Reads until EOF; returns a malloc'd NUL-terminated string, or NULL on
 * error or timeout (a reset after some data still returns the data). */
static char *read_all(int fd, size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);

  for (;;) {
    ssize_t r;
    if (n + 1 == cap) {
      char *p = realloc(buf, cap * 2);
      if (!p)
        break;
      buf = p;
      cap *= 2;
    }
    r = recv(fd, buf + n, cap - n - 1, 0);
    if (r == 0)
      break;
    if (r < 0) {
      if (errno == ECONNRESET && n > 0)
        break;
      free(buf);
      return NULL;
    }
    n += (size_t) r;
  }
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

/* One whole exchange: connect, send, read to EOF. */
static char *exchange(int port, const char *req) {
  int fd = connect_to(port);
  char *resp;

  if (fd < 0)
    return NULL;
  if (send_all(fd, req, strlen(req)) != 0) {
    close(fd);
    return NULL;
  }
  resp = read_all(fd, NULL);
  close(fd);
  return resp;
}

/* ---- server side -------------------------------------------------------- */

#define MAXR 64

struct fixture {
  uv_loop_t loop;
  uv_async_t wake;
  sb_httpd *h;
  int port;
  int closed;
  pthread_t thread;
  void (*client)(struct fixture *);
  sb_metrics *metrics;
  /* filled by handlers (loop thread) */
  char query[64];
  char method[8];
  int ready;
  size_t max_clients;
  /* filled by the client thread */
  char *resp[MAXR];
  size_t resp_len[MAXR];
  uint64_t elapsed[MAXR];
  int count[MAXR];
  int woke;  /* the client thread already asked for the close */
};

static void on_closed(void *data) {
  struct fixture *f = data;
  f->closed++;
}

static void on_wake(uv_async_t *a) {
  struct fixture *f = a->data;

  uv_close((uv_handle_t *) a, NULL);
  sb_httpd_close(f->h, on_closed, f);
}

static void *client_main(void *arg) {
  struct fixture *f = arg;

  f->client(f);
  if (!f->woke)
    uv_async_send(&f->wake);
  return NULL;
}

static void h_healthz(const sb_httpd_req *req, sb_httpd_resp *resp,
                      void *data) {
  struct fixture *f = data;

  snprintf(f->method, sizeof(f->method), "%s", req->method);
  if (sb_httpd_clients(f->h) > f->max_clients)
    f->max_clients = sb_httpd_clients(f->h);
  sb_buf_adds(&resp->body, "ok");
}

static void h_readyz(const sb_httpd_req *req, sb_httpd_resp *resp,
                     void *data) {
  struct fixture *f = data;

  snprintf(f->query, sizeof(f->query), "%s", req->query);
  if (!f->ready) {
    resp->status = 503;
    sb_buf_adds(&resp->body, "not ready\n");
  }
}

static void h_metrics(const sb_httpd_req *req, sb_httpd_resp *resp,
                      void *data) {
  struct fixture *f = data;

  (void) req;
  resp->content_type = SB_METRICS_CONTENT_TYPE;
  if (sb_metrics_write(f->metrics, &resp->body) != 0)
    resp->status = 500;
}

static void h_bad_status(const sb_httpd_req *req, sb_httpd_resp *resp,
                         void *data) {
  (void) req;
  (void) data;
  resp->status = 42;
  sb_buf_adds(&resp->body, "never sent");
}

static void h_big(const sb_httpd_req *req, sb_httpd_resp *resp,
                  void *data) {
  int i;

  (void) req;
  (void) data;
  for (i = 0; i < 100000; i++)
    sb_buf_add(&resp->body, "0123456789", 10);
}

static void fixture_start(struct fixture *f, const sb_httpd_opts *opts,
                          void (*client)(struct fixture *)) {
  char err[128];

  memset(f, 0, sizeof(*f));
  assert_int_equal(uv_loop_init(&f->loop), 0);
  assert_int_equal(uv_async_init(&f->loop, &f->wake, on_wake), 0);
  f->wake.data = f;
  assert_int_equal(sb_httpd_new(&f->loop, opts, &f->h), 0);
  assert_int_equal(sb_httpd_port(f->h), -1);
  assert_int_equal(sb_httpd_route(f->h, "/healthz", h_healthz, f), 0);
  assert_int_equal(sb_httpd_route(f->h, "/readyz", h_readyz, f), 0);
  assert_int_equal(sb_httpd_route(f->h, "/metrics", h_metrics, f), 0);
  assert_int_equal(sb_httpd_route(f->h, "/bad", h_bad_status, f), 0);
  assert_int_equal(sb_httpd_route(f->h, "/big", h_big, f), 0);
  assert_int_equal(sb_httpd_listen(f->h, "127.0.0.1:0", err, sizeof(err)),
                   0);
  f->port = sb_httpd_port(f->h);
  assert_true(f->port > 0);
  f->client = client;
}

/* Runs the client thread against the server until both are done. */
static void fixture_run(struct fixture *f) {
  assert_int_equal(pthread_create(&f->thread, NULL, client_main, f), 0);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(pthread_join(f->thread, NULL), 0);
  assert_int_equal(f->closed, 1);
  assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void fixture_free(struct fixture *f) {
  int i;

  for (i = 0; i < MAXR; i++)
    free(f->resp[i]);
}

/* ---- tests -------------------------------------------------------------- */

static const char *const basic_requests[] = {
  "GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n",
  "GET /readyz?verbose=1&x=%20 HTTP/1.1\r\n\r\n",
  "HEAD /healthz HTTP/1.1\r\n\r\n",
  "GET /nope HTTP/1.1\r\n\r\n",
  "POST /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
  "HEAD /nope HTTP/1.1\r\n\r\n",
  "GET /bad HTTP/1.1\r\n\r\n",
  "GET /healthz HTTP/1.0\n\n",
  "DELETE /readyz HTTP/1.1\r\n\r\n",
};

static void basic_client(struct fixture *f) {
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(basic_requests); i++)
    f->resp[i] = exchange(f->port, basic_requests[i]);
  f->resp[20] = exchange(f->port, "GET /big HTTP/1.1\r\n\r\n");
}

static void routes_and_methods(void **state) {
  struct fixture f;
  const char *body;

  (void) state;
  fixture_start(&f, NULL, basic_client);
  fixture_run(&f);
  assert_string_equal(f.resp[0],
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 2\r\n"
    "Connection: close\r\n"
    "\r\n"
    "ok");
  assert_string_equal(f.resp[1],
    "HTTP/1.1 503 Service Unavailable\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 10\r\n"
    "Connection: close\r\n"
    "\r\n"
    "not ready\n");
  assert_string_equal(f.query, "verbose=1&x=%20");
  /* HEAD: the length of the body a GET gets, and no body. */
  assert_string_equal(f.resp[2],
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 2\r\n"
    "Connection: close\r\n"
    "\r\n");
  assert_string_equal(f.resp[3],
    "HTTP/1.1 404 Not Found\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 14\r\n"
    "Connection: close\r\n"
    "\r\n"
    "404 Not Found\n");
  assert_string_equal(f.resp[4],
    "HTTP/1.1 405 Method Not Allowed\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 23\r\n"
    "Connection: close\r\n"
    "Allow: GET, HEAD\r\n"
    "\r\n"
    "405 Method Not Allowed\n");
  assert_string_equal(f.resp[5],
    "HTTP/1.1 404 Not Found\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 14\r\n"
    "Connection: close\r\n"
    "\r\n");
  assert_non_null(strstr(f.resp[6], "HTTP/1.1 500 Internal Server Error\r\n"));
  assert_null(strstr(f.resp[6], "never sent"));
  assert_non_null(strstr(f.resp[7], "HTTP/1.1 200 OK\r\n"));
  assert_string_equal(f.method, "GET");
  assert_non_null(strstr(f.resp[8], "HTTP/1.1 405 "));
  /* A megabyte answer arrives whole. */
  assert_non_null(strstr(f.resp[20], "Content-Length: 1000000\r\n"));
  body = strstr(f.resp[20], "\r\n\r\n");
  assert_non_null(body);
  assert_int_equal(strlen(body + 4), 1000000);
  assert_memory_equal(body + 4 + 999990, "0123456789", 10);
  fixture_free(&f);
}

static const struct {
  const char *req;
  const char *status;
} bad_requests[] = {
  {"GARBAGE\r\n\r\n", "400"},
  {"GET /healthz HTTP/2.0\r\n\r\n", "505"},
  {"GET /healthz FTP/1.0\r\n\r\n", "400"},
  {"GET  /healthz HTTP/1.1\r\n\r\n", "400"},
  {"GET /healthz HTTP/1.1 extra\r\n\r\n", "400"},
  {"GET healthz HTTP/1.1\r\n\r\n", "400"},
  {"GET http://x/healthz HTTP/1.1\r\n\r\n", "400"},
  {"G(T /healthz HTTP/1.1\r\n\r\n", "400"},
  {"GET /health\x01z HTTP/1.1\r\n\r\n", "400"},
  {"GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n", "400"},
  {"GET /healthz HTTP/1.1\r\n: empty name\r\n\r\n", "400"},
  {"GET /healthz HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", "400"},
};

static void malformed_client(struct fixture *f) {
  size_t i;
  char *big;
  int fd;

  for (i = 0; i < SB_ARRAY_SIZE(bad_requests); i++)
    f->resp[i] = exchange(f->port, bad_requests[i].req);

  /* A head larger than 8 KiB, without its end: 431 once the buffer is
   * full, without waiting for the rest. */
  big = malloc(20000);
  memcpy(big, "GET /healthz HTTP/1.1\r\nX-Pad: ", 30);
  memset(big + 30, 'a', 20000 - 30);
  fd = connect_to(f->port);
  send_all(fd, big, 9000);
  f->resp[30] = read_all(fd, NULL);
  close(fd);
  /* And one whose end comes too late. */
  memcpy(big + 9000, "\r\n\r\n", 5);
  f->resp[31] = exchange(f->port, big);
  /* Exactly at the limit, a head still fits. */
  memcpy(big + 8192 - 4, "\r\n\r\n", 5);
  f->resp[32] = exchange(f->port, big);
  free(big);
}

static void malformed_requests(void **state) {
  struct fixture f;
  char want[32];
  size_t i;

  (void) state;
  fixture_start(&f, NULL, malformed_client);
  fixture_run(&f);
  for (i = 0; i < SB_ARRAY_SIZE(bad_requests); i++) {
    snprintf(want, sizeof(want), "HTTP/1.1 %s ", bad_requests[i].status);
    assert_non_null(f.resp[i]);
    if (strncmp(f.resp[i], want, strlen(want)) != 0)
      fail_msg("request %zu: want %s, got %.40s", i, want, f.resp[i]);
  }
  assert_non_null(f.resp[30]);
  assert_non_null(strstr(f.resp[30],
      "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  assert_non_null(strstr(f.resp[31], "HTTP/1.1 431 "));
  assert_non_null(strstr(f.resp[32], "HTTP/1.1 200 OK\r\n"));
  fixture_free(&f);
}

static void slow_client(struct fixture *f) {
  uint64_t t0;
  int fd, i;

  /* Says nothing at all. */
  t0 = now_ms();
  fd = connect_to(f->port);
  f->resp[0] = read_all(fd, NULL);
  f->elapsed[0] = now_ms() - t0;
  close(fd);

  /* Sends half a request and stops. */
  t0 = now_ms();
  fd = connect_to(f->port);
  send_all(fd, "GET /healthz HTTP/1.1\r\n", 23);
  f->resp[1] = read_all(fd, NULL);
  f->elapsed[1] = now_ms() - t0;
  close(fd);

  /* Trickles a byte every 20 ms: the deadline is not reset by progress. */
  t0 = now_ms();
  fd = connect_to(f->port);
  for (i = 0; i < 15; i++) {
    if (send_all(fd, &"GET /healthz HTTP/1.1\r\nX: y\r\n"[i], 1) != 0)
      break;
    usleep(20000);
  }
  f->resp[2] = read_all(fd, NULL);
  f->elapsed[2] = now_ms() - t0;
  close(fd);
}

static void timeouts(void **state) {
  sb_httpd_opts o = {0};
  struct fixture f;
  int i;

  (void) state;
  o.request_timeout_ms = 100;
  fixture_start(&f, &o, slow_client);
  fixture_run(&f);
  for (i = 0; i < 3; i++) {
    assert_non_null(f.resp[i]);
    assert_non_null(strstr(f.resp[i], "HTTP/1.1 408 Request Timeout\r\n"));
    assert_true(f.elapsed[i] >= 95);
    assert_true(f.elapsed[i] < 3000);
  }
  fixture_free(&f);
}

/* 50 connections open at once, each sending its request only after all
 * are connected, then 8 threads hammering away. */
#define NCONN 50
#define NTHREADS 8
#define PER_THREAD 50

static void *hammer(void *arg) {
  struct fixture *f = arg;
  int i, ok = 0;

  for (i = 0; i < PER_THREAD; i++) {
    char *r = exchange(f->port, "GET /healthz HTTP/1.1\r\n\r\n");
    if (r && strstr(r, "HTTP/1.1 200 OK\r\n") && strstr(r, "\r\n\r\nok"))
      ok++;
    free(r);
  }
  return (void *) (intptr_t) ok;
}

static void concurrent_client(struct fixture *f) {
  pthread_t t[NTHREADS];
  int fds[NCONN], i;
  void *ok;

  for (i = 0; i < NCONN; i++)
    fds[i] = connect_to(f->port);
  for (i = 0; i < NCONN; i++)
    send_all(fds[i], "GET /healthz HTTP/1.1\r\n", 23);
  usleep(100000);  /* every connection accepted and half-way through */
  for (i = NCONN - 1; i >= 0; i--)
    send_all(fds[i], "\r\n", 2);
  for (i = 0; i < NCONN; i++) {
    char *r = read_all(fds[i], NULL);
    if (r && strstr(r, "HTTP/1.1 200 OK\r\n") && strstr(r, "\r\n\r\nok"))
      f->count[0]++;
    free(r);
    close(fds[i]);
  }
  for (i = 0; i < NTHREADS; i++)
    pthread_create(&t[i], NULL, hammer, f);
  for (i = 0; i < NTHREADS; i++) {
    pthread_join(t[i], &ok);
    f->count[1] += (int) (intptr_t) ok;
  }
}

static void concurrent_clients(void **state) {
  struct fixture f;

  (void) state;
  fixture_start(&f, NULL, concurrent_client);
  fixture_run(&f);
  assert_int_equal(f.count[0], NCONN);
  assert_int_equal(f.max_clients, NCONN);  /* all open at once */
  assert_int_equal(f.count[1], NTHREADS * PER_THREAD);
  fixture_free(&f);
}

/* With room for 3 connections, a fourth is closed at once, and the first
 * three are still served. */
static void cap_client(struct fixture *f) {
  int fds[3], extra, i;
  char buf[16];
  uint64_t t0;

  for (i = 0; i < 3; i++)
    fds[i] = connect_to(f->port);
  usleep(50000);  /* let the server accept them */
  t0 = now_ms();
  extra = connect_to(f->port);
  f->count[0] = (int) recv(extra, buf, sizeof(buf), 0);  /* 0: EOF */
  f->elapsed[0] = now_ms() - t0;
  close(extra);
  for (i = 0; i < 3; i++) {
    send_all(fds[i], "GET /healthz HTTP/1.1\r\n\r\n", 25);
    f->resp[i] = read_all(fds[i], NULL);
    close(fds[i]);
  }
}

static void client_cap(void **state) {
  sb_httpd_opts o = {0};
  struct fixture f;
  int i;

  (void) state;
  o.max_clients = 3;
  fixture_start(&f, &o, cap_client);
  fixture_run(&f);
  assert_true(f.count[0] <= 0);
  assert_true(f.elapsed[0] < 2000);
  for (i = 0; i < 3; i++) {
    assert_non_null(f.resp[i]);
    assert_non_null(strstr(f.resp[i], "HTTP/1.1 200 OK\r\n"));
  }
  fixture_free(&f);
}

/* Closing the server drops connections in every state. */
static void closing_client(struct fixture *f) {
  int fds[5], i;
  char buf[64];

  for (i = 0; i < 5; i++)
    fds[i] = connect_to(f->port);
  send_all(fds[1], "GET /hea", 8);
  send_all(fds[2], "GET /healthz HTTP/1.1\r\nX-Long: ", 31);
  usleep(50000);
  f->woke = 1;
  uv_async_send(&f->wake);  /* close the server now */
  for (i = 0; i < 5; i++) {
    ssize_t r = recv(fds[i], buf, sizeof(buf), 0);
    if (r <= 0)
      f->count[0]++;  /* EOF or reset, and no answer */
    close(fds[i]);
  }
  /* Nobody listens any more. */
  f->count[1] = connect_to(f->port) < 0;
}

static void close_with_clients(void **state) {
  struct fixture f;

  (void) state;
  fixture_start(&f, NULL, closing_client);
  fixture_run(&f);
  assert_int_equal(f.count[0], 5);
  assert_int_equal(f.count[1], 1);
  fixture_free(&f);
}

static void metrics_client(struct fixture *f) {
  f->resp[0] = exchange(f->port, "GET /metrics HTTP/1.1\r\n\r\n");
}

static void metrics_endpoint(void **state) {
  struct fixture f;
  sb_metric *c;
  char want[512];

  (void) state;
  fixture_start(&f, NULL, metrics_client);
  f.metrics = sb_metrics_new();
  assert_int_equal(sb_metrics_counter(f.metrics, "smi_bridge_conflicts_total",
      "Conflicts.", SB_LABELS("kind"), &c), 0);
  assert_int_equal(sb_metric_inc(c, SB_LABELS("TrafficSplit")), 0);
  fixture_run(&f);
  snprintf(want, sizeof(want),
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: %s\r\n"
    "Content-Length: 137\r\n"
    "Connection: close\r\n"
    "\r\n"
    "# HELP smi_bridge_conflicts_total Conflicts.\n"
    "# TYPE smi_bridge_conflicts_total counter\n"
    "smi_bridge_conflicts_total{kind=\"TrafficSplit\"} 1\n",
    SB_METRICS_CONTENT_TYPE);
  assert_string_equal(f.resp[0], want);
  sb_metrics_free(f.metrics);
  fixture_free(&f);
}

/* ---- listen addresses --------------------------------------------------- */

static void closed_cb(void *data) {
  ++*(int *) data;
}

static int try_listen(const char *addr, char *err, size_t errlen,
                      int *port) {
  uv_loop_t loop;
  sb_httpd *h;
  int rc, closed = 0;

  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_httpd_new(&loop, NULL, &h), 0);
  rc = sb_httpd_listen(h, addr, err, errlen);
  *port = sb_httpd_port(h);
  sb_httpd_close(h, closed_cb, &closed);
  assert_int_equal(closed, 0);  /* never from inside close */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
  return rc;
}

static int have_ipv6_loopback(void) {
  struct sockaddr_in6 sin6;
  int fd = socket(AF_INET6, SOCK_STREAM, 0), ok;

  if (fd < 0)
    return 0;
  memset(&sin6, 0, sizeof(sin6));
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  ok = bind(fd, (struct sockaddr *) &sin6, sizeof(sin6)) == 0;
  close(fd);
  return ok;
}

static void listen_addresses(void **state) {
  static const char *const bad[] = {
    "", "8080", "nope", "nope:80", "1.2.3.4.5:80", ":99999", ":65536",
    ":-1", ":", "127.0.0.1", "[::1", "[::1]", "[::1]80", "::1:80",
    "[nope]:80", ":80x", ":123456", "example.com:80",
  };
  char err[160];
  size_t i;
  int port;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(bad); i++) {
    if (try_listen(bad[i], err, sizeof(err), &port) != SB_EINVAL)
      fail_msg("address '%s' was accepted", bad[i]);
    assert_int_equal(port, -1);
    assert_non_null(strstr(err, "not an address"));
  }
  assert_int_equal(try_listen(":0", err, sizeof(err), &port), 0);
  assert_true(port > 0);
  assert_string_equal(err, "");
  assert_int_equal(try_listen("127.0.0.1:0", err, sizeof(err), &port), 0);
  assert_true(port > 0);
  assert_int_equal(try_listen("localhost:0", NULL, 0, &port), 0);
  assert_true(port > 0);
  if (have_ipv6_loopback()) {
    assert_int_equal(try_listen("[::1]:0", err, sizeof(err), &port), 0);
    assert_true(port > 0);
  } else {
    assert_int_equal(try_listen("[::1]:0", err, sizeof(err), &port),
                     SB_EIO);
  }
}

static void in_use_client(struct fixture *f) {
  (void) f;
}

static void listen_errors(void **state) {
  struct fixture f;
  char addr[32], err[160];
  sb_httpd *h2;
  int closed = 0;

  (void) state;
  fixture_start(&f, NULL, in_use_client);
  /* Twice on one server. */
  assert_int_equal(sb_httpd_listen(f.h, "127.0.0.1:0", err, sizeof(err)),
                   SB_EINVAL);
  assert_non_null(strstr(err, "already listening"));
  /* A second server on the same port. */
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
  assert_int_equal(sb_httpd_new(&f.loop, NULL, &h2), 0);
  assert_int_equal(sb_httpd_listen(h2, addr, err, sizeof(err)), SB_EIO);
  assert_non_null(strstr(err, "address already in use"));
  assert_int_equal(sb_httpd_port(h2), -1);
  sb_httpd_close(h2, closed_cb, &closed);
  /* Route rules. */
  assert_int_equal(sb_httpd_route(f.h, "/healthz", h_healthz, &f), SB_EEXIST);
  assert_int_equal(sb_httpd_route(f.h, "healthz", h_healthz, &f), SB_EINVAL);
  assert_int_equal(sb_httpd_route(f.h, "/x", NULL, &f), SB_EINVAL);
  fixture_run(&f);
  assert_int_equal(closed, 1);
  fixture_free(&f);
}

/* ":0" listens on IPv4 too (dual stack, or IPv4 alone). */
static void wildcard_client(struct fixture *f) {
  f->resp[0] = exchange(f->port, "GET /healthz HTTP/1.1\r\n\r\n");
}

static void wildcard_serves_ipv4(void **state) {
  struct fixture f;
  char err[128];

  (void) state;
  memset(&f, 0, sizeof(f));
  assert_int_equal(uv_loop_init(&f.loop), 0);
  assert_int_equal(uv_async_init(&f.loop, &f.wake, on_wake), 0);
  f.wake.data = &f;
  assert_int_equal(sb_httpd_new(&f.loop, NULL, &f.h), 0);
  assert_int_equal(sb_httpd_route(f.h, "/healthz", h_healthz, &f), 0);
  assert_int_equal(sb_httpd_listen(f.h, ":0", err, sizeof(err)), 0);
  f.port = sb_httpd_port(f.h);
  f.client = wildcard_client;
  fixture_run(&f);
  assert_non_null(f.resp[0]);
  assert_non_null(strstr(f.resp[0], "HTTP/1.1 200 OK\r\n"));
  fixture_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(routes_and_methods),
    cmocka_unit_test(malformed_requests),
    cmocka_unit_test(timeouts),
    cmocka_unit_test(concurrent_clients),
    cmocka_unit_test(client_cap),
    cmocka_unit_test(close_with_clients),
    cmocka_unit_test(metrics_endpoint),
    cmocka_unit_test(listen_addresses),
    cmocka_unit_test(listen_errors),
    cmocka_unit_test(wildcard_serves_ipv4),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
