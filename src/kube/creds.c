/* creds.c -- credentials at run time: static material, token files that
 * rotate, and exec credential plugins run with uv_spawn.
 *
 * A request asks sb_kubecreds_peek first; that answers without waiting in
 * every case but one: an exec plugin whose credential is missing or has
 * expired. Then, and after a 401, the caller asks for a refresh. Refreshes
 * are answered from the loop through a zero-delay timer, so a caller never
 * sees its callback before sb_kubecreds_refresh returns; every refresh that
 * arrives while a plugin runs waits for that same run. The generation
 * number lets a burst of 401s for one stale credential cause one refresh.
 */
#include "sb/kubeconfig.h"
#include "sb/rfc3339.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube-int.h"
#include "sb/buf.h"
#include "sb/err.h"
#include "sb/log.h"

#define MAX_PLUGIN_OUT ((size_t) 1024 * 1024)
#define STDERR_TAIL 1024
/* An exec credential this close to expiry counts as expired: a request
 * must not leave with a token that dies on the way. */
#define EXPIRY_SKEW_S 10

typedef struct waiter {
  sb_kubecreds_cb cb;
  void *arg;
  struct waiter *next;
} waiter;

typedef struct run {
  sb_kubecreds *c;
  uv_process_t proc;
  uv_pipe_t out, err;
  uv_timer_t timer;
  int handles;            /* open of the four above */
  sb_buf sout, serr;
  int spawn_err;
  int exited, out_eof, err_eof, timed_out, overflow, finished;
  int64_t exit_status;
  int term_signal;
} run;

struct sb_kubecreds {
  uv_loop_t *loop;
  const sb_kubeconfig *cfg;
  sb_kubecred cur;
  char *token;            /* owned material behind cur */
  char *cert, *key;
  size_t cert_len, key_len;
  int have;               /* cur is usable (exec: a run succeeded) */
  int64_t expiry;         /* exec credential, epoch s; 0 = none */
  uint64_t token_read_ms;
  int token_read;
  waiter *waiters, **wtail;
  int res_err;            /* the result the next delivery reports */
  char res_msg[1536];
  uv_timer_t defer;
  run *run;
  int closing;
  int open_handles;
  void (*close_cb)(void *);
  void *close_arg;
};

static void kick(sb_kubecreds *c);

/* ---- ExecCredential ----------------------------------------------------- */

void sb__execcred_free(sb__execcred *x) {
  free(x->token);
  free(x->cert);
  if (x->key) {
    memset(x->key, 0, x->key_len);
    free(x->key);
  }
  memset(x, 0, sizeof(*x));
}

static int dup_field(const cJSON *v, char **out, size_t *len) {
  size_t n = strlen(v->valuestring);

  *out = malloc(n + 1);
  if (!*out)
    return SB_ENOMEM;
  memcpy(*out, v->valuestring, n + 1);
  if (len)
    *len = n;
  return 0;
}

int sb__execcred_parse(const char *json, size_t len, const char *api_version,
                       sb__execcred *out, char *err, size_t errlen) {
  cJSON *root = cJSON_ParseWithLength(json, len);
  const cJSON *kind, *api, *st, *tok, *cert, *key, *exp;
  int rc = SB_EPARSE;

  memset(out, 0, sizeof(*out));
  if (!root) {
    snprintf(err, errlen, "output is not JSON");
    return SB_EPARSE;
  }
  kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
  api = cJSON_GetObjectItemCaseSensitive(root, "apiVersion");
  st = cJSON_GetObjectItemCaseSensitive(root, "status");
  if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "ExecCredential")) {
    snprintf(err, errlen, "kind is not ExecCredential");
    goto out;
  }
  if (!cJSON_IsString(api) || strcmp(api->valuestring, api_version)) {
    snprintf(err, errlen, "apiVersion \"%s\" does not match the configured "
             "\"%s\"", cJSON_IsString(api) ? api->valuestring : "",
             api_version);
    goto out;
  }
  if (!cJSON_IsObject(st)) {
    snprintf(err, errlen, "no status");
    goto out;
  }
  tok = cJSON_GetObjectItemCaseSensitive(st, "token");
  cert = cJSON_GetObjectItemCaseSensitive(st, "clientCertificateData");
  key = cJSON_GetObjectItemCaseSensitive(st, "clientKeyData");
  exp = cJSON_GetObjectItemCaseSensitive(st, "expirationTimestamp");
  if (cJSON_IsString(tok) && !*tok->valuestring)
    tok = NULL;
  if (cJSON_IsString(cert) && !*cert->valuestring)
    cert = NULL;
  if (cJSON_IsString(key) && !*key->valuestring)
    key = NULL;
  if ((tok && !cJSON_IsString(tok)) || (cert && !cJSON_IsString(cert)) ||
      (key && !cJSON_IsString(key))) {
    snprintf(err, errlen, "status fields must be strings");
    goto out;
  }
  if (!cert != !key) {
    snprintf(err, errlen, "status has %s without %s",
             cert ? "clientCertificateData" : "clientKeyData",
             cert ? "clientKeyData" : "clientCertificateData");
    goto out;
  }
  if (!tok && !cert) {
    snprintf(err, errlen, "status has neither token nor "
             "clientCertificateData/clientKeyData");
    goto out;
  }
  if (exp && !cJSON_IsNull(exp) &&
      (!cJSON_IsString(exp) || sb_rfc3339_parse(exp->valuestring, &out->expiry))) {
    snprintf(err, errlen, "status.expirationTimestamp is not an RFC 3339 "
             "time");
    goto out;
  }
  rc = 0;
  if (tok)
    rc = dup_field(tok, &out->token, NULL);
  if (!rc && cert)
    rc = dup_field(cert, &out->cert, &out->cert_len);
  if (!rc && key)
    rc = dup_field(key, &out->key, &out->key_len);
  if (rc)
    snprintf(err, errlen, "out of memory");
out:
  cJSON_Delete(root);
  if (rc)
    sb__execcred_free(out);
  return rc;
}

char *sb__exec_info(const sb_kubeconfig *cfg) {
  cJSON *root = cJSON_CreateObject(), *spec, *cl;
  char *s = NULL, *ca64 = NULL;

  if (!root)
    return NULL;
  cJSON_AddStringToObject(root, "apiVersion", cfg->exec->api_version);
  cJSON_AddStringToObject(root, "kind", "ExecCredential");
  spec = cJSON_AddObjectToObject(root, "spec");
  if (!spec)
    goto out;
  cJSON_AddBoolToObject(spec, "interactive", 0);
  if (cfg->exec->provide_cluster_info) {
    cl = cJSON_AddObjectToObject(spec, "cluster");
    if (!cl)
      goto out;
    cJSON_AddStringToObject(cl, "server", cfg->server);
    if (cfg->tls_server_name)
      cJSON_AddStringToObject(cl, "tls-server-name", cfg->tls_server_name);
    if (cfg->insecure)
      cJSON_AddBoolToObject(cl, "insecure-skip-tls-verify", 1);
    if (cfg->ca) {
      if (sb__b64_encode(cfg->ca, cfg->ca_len, &ca64))
        goto out;
      cJSON_AddStringToObject(cl, "certificate-authority-data", ca64);
    }
    if (cfg->proxy_url)
      cJSON_AddStringToObject(cl, "proxy-url", cfg->proxy_url);
  }
  s = cJSON_PrintUnformatted(root);
out:
  free(ca64);
  cJSON_Delete(root);
  return s;
}

/* ---- current credential ------------------------------------------------- */

static void set_cur(sb_kubecreds *c) {
  const sb_kubeconfig *k = c->cfg;

  c->cur.token = c->token ? c->token : k->token_file ? NULL : k->token;
  c->cur.cert = c->cert ? c->cert : k->cert;
  c->cur.cert_len = c->cert ? c->cert_len : k->cert_len;
  c->cur.key = c->cert ? c->key : k->key;
  c->cur.key_len = c->cert ? c->key_len : k->key_len;
}

/* Re-reads the token file; keeps the old token when the read fails. */
static int read_token(sb_kubecreds *c, char *msg, size_t msglen) {
  char ebuf[256], *data = NULL;
  size_t n;
  int rc;

  c->token_read_ms = uv_now(c->loop);
  c->token_read = 1;
  rc = sb__read_file(c->cfg->token_file, 1 << 20, &data, &n, ebuf,
                     sizeof(ebuf));
  if (!rc) {
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r' ||
                 data[n - 1] == ' '))
      data[--n] = '\0';
    if (n == 0) {
      snprintf(ebuf, sizeof(ebuf), "file is empty");
      rc = SB_ECONFIG;
    }
  }
  if (rc) {
    free(data);
    snprintf(msg, msglen, "%s: token file \"%s\": %s", c->cfg->origin,
             c->cfg->token_file, ebuf);
    sb_log(SB_LOG_WARN, "cannot read token file", "path=%s error=%s",
           c->cfg->token_file, ebuf);
    return c->token ? 0 : (rc == SB_ENOMEM ? rc : SB_EUNAUTHORIZED);
  }
  if (!c->token || strcmp(c->token, data)) {
    free(c->token);
    c->token = data;
    c->cur.gen++;
    sb_log(SB_LOG_DEBUG, "token file read", "path=%s gen=%u",
           c->cfg->token_file, c->cur.gen);
  } else {
    free(data);
  }
  c->have = 1;
  set_cur(c);
  return 0;
}

static int exec_valid(const sb_kubecreds *c) {
  return c->have && (c->expiry == 0 ||
                     (int64_t) time(NULL) + EXPIRY_SKEW_S < c->expiry);
}

const sb_kubecred *sb_kubecreds_peek(sb_kubecreds *c) {
  const sb_kubeconfig *k = c->cfg;
  char msg[512];

  if (k->exec)
    return exec_valid(c) ? &c->cur : NULL;
  if (k->token_file) {
    if (!c->token_read || k->token_reload_ms == 0 ||
        uv_now(c->loop) - c->token_read_ms >= k->token_reload_ms)
      read_token(c, msg, sizeof(msg));
    return c->token ? &c->cur : NULL;
  }
  return &c->cur;
}

int sb_kubecreds_refreshable(const sb_kubecreds *c) {
  return c->cfg->exec || c->cfg->token_file;
}

/* ---- exec plugin runs --------------------------------------------------- */

static void one_line(sb_buf *out, const char *s, size_t n) {
  size_t i;
  int space = 0;

  for (i = 0; i < n; i++) {
    unsigned char ch = (unsigned char) s[i];

    if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
      space = out->len > 0;
      continue;
    }
    if (space)
      sb_buf_addc(out, ' ');
    space = 0;
    sb_buf_addc(out, ch < 0x20 ? '?' : (char) ch);
  }
}

/* Turns a finished run into the result (credential or error message). */
static void run_result(sb_kubecreds *c, run *r) {
  const sb_kubeexec *x = c->cfg->exec;
  sb_buf m;
  char why[256];
  sb__execcred cred;
  int rc = 0;

  sb_buf_init(&m, sizeof(c->res_msg) - 1);
  sb_buf_addf(&m, "%s: user \"%s\": exec plugin \"%s\"", c->cfg->origin,
              c->cfg->user_name ? c->cfg->user_name : "", x->command);
  if (r->spawn_err) {
    rc = SB_EEXEC;
    if (r->spawn_err == UV_ENOENT)
      sb_buf_adds(&m, ": executable not found");
    else
      sb_buf_addf(&m, ": cannot run: %s", uv_strerror(r->spawn_err));
  } else if (r->timed_out) {
    rc = SB_ETIMEOUT;
    sb_buf_addf(&m, ": no answer within %u ms", x->timeout_ms);
  } else if (r->exit_status != 0 || r->term_signal != 0) {
    rc = SB_EEXEC;
    if (r->term_signal)
      sb_buf_addf(&m, " failed: killed by signal %d", r->term_signal);
    else
      sb_buf_addf(&m, " failed: exit status %lld",
                  (long long) r->exit_status);
    if (r->serr.len) {
      sb_buf_adds(&m, ": ");
      one_line(&m, r->serr.data, r->serr.len);
    }
  } else if (r->overflow) {
    rc = SB_EEXEC;
    sb_buf_addf(&m, ": output larger than %zu bytes", MAX_PLUGIN_OUT);
  } else {
    rc = sb__execcred_parse(sb_buf_cstr(&r->sout), r->sout.len,
                            x->api_version, &cred, why, sizeof(why));
    if (rc) {
      rc = rc == SB_ENOMEM ? rc : SB_EEXEC;
      sb_buf_addf(&m, ": bad ExecCredential: %s", why);
    }
  }
  if (rc) {
    if (x->install_hint && rc == SB_EEXEC) {
      sb_buf_adds(&m, " (");
      one_line(&m, x->install_hint, strlen(x->install_hint));
      sb_buf_adds(&m, ")");
    }
    c->res_err = rc;
    snprintf(c->res_msg, sizeof(c->res_msg), "%s", sb_buf_cstr(&m));
    sb_log(SB_LOG_WARN, "exec credential plugin failed", "error=%s",
           c->res_msg);
  } else {
    free(c->token);
    free(c->cert);
    if (c->key) {
      memset(c->key, 0, c->key_len);
      free(c->key);
    }
    c->token = cred.token;
    c->cert = cred.cert;
    c->cert_len = cred.cert_len;
    c->key = cred.key;
    c->key_len = cred.key_len;
    c->expiry = cred.expiry;
    c->have = 1;
    c->cur.gen++;
    set_cur(c);
    c->res_err = 0;
    c->res_msg[0] = '\0';
    sb_log(SB_LOG_DEBUG, "exec credential obtained", "command=%s gen=%u "
           "expires=%lld", x->command, c->cur.gen, (long long) c->expiry);
  }
  sb_buf_free(&m);
}

static void creds_handle_closed(sb_kubecreds *c);

static void run_closed(uv_handle_t *h) {
  run *r = h->data;
  sb_kubecreds *c = r->c;

  if (--r->handles > 0)
    return;
  sb_buf_free(&r->sout);
  sb_buf_free(&r->serr);
  free(r);
  c->run = NULL;
  kick(c);
  creds_handle_closed(c);
}

static void run_maybe_finish(run *r) {
  if (!r->exited || !r->out_eof || !r->err_eof || r->finished)
    return;
  r->finished = 1;
  if (!r->c->closing)
    run_result(r->c, r);
  /* Four handles: the count is what run_closed waits for. */
  uv_close((uv_handle_t *) &r->proc, run_closed);
  uv_close((uv_handle_t *) &r->out, run_closed);
  uv_close((uv_handle_t *) &r->err, run_closed);
  uv_close((uv_handle_t *) &r->timer, run_closed);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  run *r = p->data;

  r->exited = 1;
  r->exit_status = status;
  r->term_signal = sig;
  uv_timer_stop(&r->timer);
  run_maybe_finish(r);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char slab[65536];

  (void) h;
  (void) hint;
  buf->base = slab;
  buf->len = sizeof(slab);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  run *r = s->data;
  int is_out = s == (uv_stream_t *) &r->out;

  if (n < 0) {
    uv_read_stop(s);
    if (is_out)
      r->out_eof = 1;
    else
      r->err_eof = 1;
    run_maybe_finish(r);
    return;
  }
  if (is_out) {
    if (sb_buf_add(&r->sout, buf->base, (size_t) n))
      r->overflow = 1;
    return;
  }
  /* stderr: keep only the tail, which is where the reason usually is. */
  if ((size_t) n > STDERR_TAIL) {
    sb_buf_reset(&r->serr);
    sb_buf_add(&r->serr, buf->base + n - STDERR_TAIL, STDERR_TAIL);
  } else {
    if (r->serr.len + (size_t) n > STDERR_TAIL)
      sb_buf_consume(&r->serr, r->serr.len + (size_t) n - STDERR_TAIL);
    sb_buf_add(&r->serr, buf->base, (size_t) n);
  }
}

/* A child of the plugin may hold the pipes open: stop waiting on them. */
static void run_stop_reading(run *r) {
  if (!r->out_eof) {
    uv_read_stop((uv_stream_t *) &r->out);
    r->out_eof = 1;
  }
  if (!r->err_eof) {
    uv_read_stop((uv_stream_t *) &r->err);
    r->err_eof = 1;
  }
}

static void on_run_timeout(uv_timer_t *t) {
  run *r = t->data;

  r->timed_out = 1;
  uv_process_kill(&r->proc, SIGKILL);
    run_stop_reading(r);
  run_maybe_finish(r);
}

/* The plugin's environment: ours, its own entries, KUBERNETES_EXEC_INFO. */
static char **build_env(const sb_kubeconfig *cfg) {
  const sb_kubeexec *x = cfg->exec;
  uv_env_item_t *items = NULL;
  int nitems = 0, i;
  size_t n = 0, j;
  char **env, *info;
  sb_buf b;

  if (uv_os_environ(&items, &nitems))
    return NULL;
  env = calloc((size_t) nitems + x->nenv + 2, sizeof(char *));
  info = sb__exec_info(cfg);
  if (!env || !info)
    goto fail;
  for (i = 0; i < nitems; i++) {
    size_t klen = strlen(items[i].name);
    int overridden = strcmp(items[i].name, "KUBERNETES_EXEC_INFO") == 0;

    for (j = 0; j < x->nenv && !overridden; j++)
      overridden = strncmp(x->env[j], items[i].name, klen) == 0 &&
                   x->env[j][klen] == '=';
    if (overridden)
      continue;
    sb_buf_init(&b, SB_BUF_UNLIMITED);
    sb_buf_addf(&b, "%s=%s", items[i].name, items[i].value);
    if (!(env[n++] = sb_buf_steal(&b, NULL)))
      goto fail;
  }
  for (j = 0; j < x->nenv; j++) {
    sb_buf_init(&b, SB_BUF_UNLIMITED);
    sb_buf_adds(&b, x->env[j]);
    if (!(env[n++] = sb_buf_steal(&b, NULL)))
      goto fail;
  }
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  sb_buf_addf(&b, "KUBERNETES_EXEC_INFO=%s", info);
  if (!(env[n++] = sb_buf_steal(&b, NULL)))
    goto fail;
  free(info);
  uv_os_free_environ(items, nitems);
  return env;
fail:
  for (j = 0; env && j < n; j++)
    free(env[j]);
  free(env);
  free(info);
  uv_os_free_environ(items, nitems);
  return NULL;
}

static int run_start(sb_kubecreds *c) {
  const sb_kubeexec *x = c->cfg->exec;
  uv_process_options_t po;
  uv_stdio_container_t stdio[3];
  char **argv, **env;
  run *r;
  size_t i;
  int rc;

  r = calloc(1, sizeof(*r));
  argv = calloc(x->nargs + 2, sizeof(char *));
  env = build_env(c->cfg);
  if (!r || !argv || !env) {
    free(r);
    free(argv);
    for (i = 0; env && env[i]; i++)
      free(env[i]);
    free(env);
    return SB_ENOMEM;
  }
  r->c = c;
  sb_buf_init(&r->sout, MAX_PLUGIN_OUT);
  sb_buf_init(&r->serr, STDERR_TAIL);
  argv[0] = x->command;
  for (i = 0; i < x->nargs; i++)
    argv[i + 1] = x->args[i];
  uv_pipe_init(c->loop, &r->out, 0);
  uv_pipe_init(c->loop, &r->err, 0);
  uv_timer_init(c->loop, &r->timer);
  r->proc.data = r->out.data = r->err.data = r->timer.data = r;
  memset(&po, 0, sizeof(po));
  memset(stdio, 0, sizeof(stdio));
  stdio[0].flags = UV_IGNORE;  /* stdin is /dev/null: never a terminal */
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *) &r->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *) &r->err;
  po.file = x->command;
  po.args = argv;
  po.env = env;
  po.stdio = stdio;
  po.stdio_count = 3;
  po.exit_cb = on_exit_cb;
  rc = uv_spawn(c->loop, &r->proc, &po);
  for (i = 0; env[i]; i++)
    free(env[i]);
  free(env);
  free(argv);
  r->handles = 4;
  c->run = r;
  c->open_handles++;  /* the run counts as one until all four close */
  sb_log(SB_LOG_DEBUG, "running exec credential plugin", "command=%s "
         "result=%s", x->command, rc ? uv_strerror(rc) : "started");
  if (rc) {
    r->spawn_err = rc;
    r->exited = r->out_eof = r->err_eof = 1;
    run_maybe_finish(r);
    return 0;
  }
  uv_read_start((uv_stream_t *) &r->out, on_alloc, on_read);
  uv_read_start((uv_stream_t *) &r->err, on_alloc, on_read);
  uv_timer_start(&r->timer, on_run_timeout, x->timeout_ms ? x->timeout_ms
                                                          : 60000, 0);
  return 0;
}

/* ---- refresh and delivery ----------------------------------------------- */

static void on_defer(uv_timer_t *t) {
  sb_kubecreds *c = t->data;
  waiter *w;

  if (c->run)
    return;  /* delivered when the run ends */
  w = c->waiters;
  c->waiters = NULL;
  c->wtail = &c->waiters;
  while (w) {
    waiter *next = w->next;
    int err = c->closing ? SB_ECANCELED : c->res_err;

    w->cb(w->arg, err, err ? NULL : &c->cur,
          err ? (c->closing ? "canceled" : c->res_msg) : "");
    free(w);
    w = next;
  }
}

static void kick(sb_kubecreds *c) {
  if (!uv_is_closing((uv_handle_t *) &c->defer) &&
      !uv_is_active((uv_handle_t *) &c->defer))
    uv_timer_start(&c->defer, on_defer, 0, 0);
}

int sb_kubecreds_refresh(sb_kubecreds *c, unsigned stale_gen,
                         sb_kubecreds_cb cb, void *arg) {
  const sb_kubeconfig *k = c->cfg;
  waiter *w;
  int rc;

  if (c->closing)
    return SB_ECLOSING;
  w = calloc(1, sizeof(*w));
  if (!w)
    return SB_ENOMEM;
  w->cb = cb;
  w->arg = arg;
  if (c->run)
    goto queue;  /* join the running plugin */
  c->res_err = 0;
  c->res_msg[0] = '\0';
  if (k->exec) {
    if (c->cur.gen == stale_gen || !exec_valid(c)) {
      rc = run_start(c);
      if (rc) {
        free(w);
        return rc;
      }
    }
  } else if (k->token_file) {
    if (c->cur.gen == stale_gen || !c->token) {
      rc = read_token(c, c->res_msg, sizeof(c->res_msg));
      if (rc)
        c->res_err = rc;
      else if (c->cur.gen == stale_gen)
        c->res_msg[0] = '\0';  /* unchanged: the caller sees same gen */
    }
  }
queue:
  *c->wtail = w;
  c->wtail = &w->next;
  kick(c);
  return 0;
}

int sb_kubecreds_new(uv_loop_t *loop, const sb_kubeconfig *cfg,
                     sb_kubecreds **out) {
  sb_kubecreds *c = calloc(1, sizeof(*c));

  *out = NULL;
  if (!c)
    return SB_ENOMEM;
  c->loop = loop;
  c->cfg = cfg;
  c->wtail = &c->waiters;
  c->cur.gen = 1;
  set_cur(c);
  uv_timer_init(loop, &c->defer);
  c->defer.data = c;
  c->open_handles = 1;
  *out = c;
  return 0;
}

static void creds_handle_closed(sb_kubecreds *c) {
  void (*cb)(void *);
  void *arg;

  if (--c->open_handles > 0)
    return;
  cb = c->close_cb;
  arg = c->close_arg;
  free(c->token);
  free(c->cert);
  if (c->key) {
    memset(c->key, 0, c->key_len);
    free(c->key);
  }
  free(c);
  if (cb)
    cb(arg);
}

static void defer_closed(uv_handle_t *h) {
  creds_handle_closed(h->data);
}

void sb_kubecreds_close(sb_kubecreds *c, void (*cb)(void *arg), void *arg) {
  if (c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  c->close_arg = arg;
  if (c->run) {
    run *r = c->run;

    /* The result is dropped; its handles still count until closed. */
    c->run = NULL;
    if (!r->exited)
      uv_process_kill(&r->proc, SIGKILL);
    run_stop_reading(r);
    run_maybe_finish(r);
  }
  on_defer(&c->defer);
  uv_close((uv_handle_t *) &c->defer, defer_closed);
}
