/* test-kubeconfig.c -- kubeconfig loading and merging (fixtures in
 * tests/data/kube/kc/), in-cluster config, ExecCredential parsing, and the
 * run-time credential source: token file rotation and real exec plugins
 * (small shell scripts written at test time).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "../../src/kube/kube-int.h"
#include "sb/err.h"
#include "sb/kubeconfig.h"
#include "sb/rfc3339.h"

#define KC SB_SOURCE_DIR "/tests/data/kube/kc"

static char tmpdir[256];

static void clear_env(void) {
  unsetenv("KUBECONFIG");
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
}

static sb_kubeconfig *load_ok(const char *path, const char *ctx) {
  sb_kubeconfig_opts o = {path, ctx, NULL};
  sb_kubeconfig *k = NULL;
  char err[512];
  int rc = sb_kubeconfig_load(&o, &k, err, sizeof(err));

  if (rc)
    fail_msg("load failed: %s", err);
  return k;
}

static void explicit_file_and_relative_paths(void **state) {
  sb_kubeconfig *k = load_ok(KC "/a.json", NULL);

  (void) state;
  assert_string_equal(k->context, "ctx-a");
  assert_string_equal(k->cluster_name, "c1");
  assert_string_equal(k->user_name, "u1");
  assert_string_equal(k->ns, "team-a");
  assert_string_equal(k->server, "https://a.example:6443");  /* no '/' */
  assert_string_equal(k->origin, "kubeconfig " KC "/a.json");
  /* certs/... is relative to the kubeconfig, not to the cwd. */
  assert_non_null(strstr(k->ca, "Q0EgZml4dHVyZQ=="));
  assert_int_equal(k->ca_len, strlen(k->ca));
  assert_non_null(strstr(k->cert, "Y2xpZW50IGZpeHR1cmU="));
  assert_non_null(strstr(k->key, "PRIVATE KEY"));
  assert_string_equal(k->tls_server_name, "kubernetes.default");
  assert_string_equal(k->proxy_url, "http://proxy.example:3128");
  assert_int_equal(k->insecure, 0);
  assert_null(k->token);
  assert_null(k->exec);
  assert_int_equal(k->token_reload_ms, 60000);
  sb_kubeconfig_free(k);

  k = load_ok(KC "/a.json", "ctx-b");
  assert_string_equal(k->server, "https://c2.example");
  assert_int_equal(k->insecure, 1);
  assert_string_equal(k->token, "tok-a");
  assert_null(k->ca);
  assert_null(k->ns);
  sb_kubeconfig_free(k);
}

static void kubeconfig_env_merges_first_wins(void **state) {
  sb_kubeconfig *k;

  (void) state;
  clear_env();
  /* b first: its current-context and its definitions of c1/u1/ctx-a win;
   * a missing file in the list is skipped. */
  setenv("KUBECONFIG", KC "/b.json:" KC "/missing.json::" KC "/a.json", 1);
  k = load_ok(NULL, NULL);
  assert_string_equal(k->context, "ctx-c");
  assert_string_equal(k->server, "https://c3.example:443");
  assert_string_equal(k->ca, "inline CA");     /* -data, base64 */
  assert_int_equal(k->ca_len, 9);
  assert_string_equal(k->token_file, KC "/token.txt");
  assert_string_equal(k->token, "ignored");  /* the file wins at run time */
  assert_string_equal(k->origin, "kubeconfig " KC "/b.json");
  sb_kubeconfig_free(k);
  k = load_ok(NULL, "ctx-a");
  assert_string_equal(k->server, "https://c3.example:443");
  assert_string_equal(k->token, "loser");
  sb_kubeconfig_free(k);
  /* Contexts only a defines are still there. */
  k = load_ok(NULL, "ctx-b");
  assert_string_equal(k->server, "https://c2.example");
  sb_kubeconfig_free(k);

  /* a first: a's ctx-a, clusters and current-context. */
  setenv("KUBECONFIG", KC "/a.json:" KC "/b.json", 1);
  k = load_ok(NULL, NULL);
  assert_string_equal(k->context, "ctx-a");
  assert_string_equal(k->server, "https://a.example:6443");
  assert_non_null(k->cert);
  sb_kubeconfig_free(k);
  k = load_ok(NULL, "ctx-c");
  assert_string_equal(k->server, "https://c3.example:443");
  sb_kubeconfig_free(k);

  /* --kubeconfig beats KUBECONFIG. */
  k = load_ok(KC "/b.json", NULL);
  assert_string_equal(k->context, "ctx-c");
  sb_kubeconfig_free(k);
  clear_env();
}

static void config_errors_are_one_clear_line(void **state) {
  static const struct {
    const char *context;
    int rc;
    const char *want;
  } cases[] = {
      {"nope", SB_ECONFIG, "errors.json: context \"nope\" not found "
                           "(contexts: noserver, badca, both, nocluster"},
      {"noserver", SB_ECONFIG, "cluster \"noserver\": server is required"},
      {"badca", SB_ECONFIG,
       "cluster \"badca\": certificate-authority-data: not valid base64"},
      {"both", SB_ECONFIG, "insecure-skip-tls-verify and a certificate "
                           "authority exclude each other"},
      {"nocluster", SB_ECONFIG,
       "context \"nocluster\": cluster \"ghost\" not found"},
      {"nouser", SB_ECONFIG, "context \"nouser\": user \"ghost\" not found"},
      {"nokey", SB_ECONFIG, "errors.json: user \"nokey\": client-key \"" KC
                            "/certs/missing.pem\": No such file or "
                            "directory"},
      {"halfcert", SB_ECONFIG, "client-certificate without client-key"},
      {"basic", SB_EUNSUPPORTED, "username/password (basic auth) is not "
                                 "supported"},
      {"gcp", SB_EUNSUPPORTED, "auth-provider \"gcp\" is not supported; use "
                               "an exec credential plugin"},
      {"exec-old", SB_EUNSUPPORTED, "apiVersion \"client.authentication."
                                    "k8s.io/v1alpha1\" is not supported"},
      {"exec-nomode", SB_ECONFIG, "interactiveMode is required"},
      {"exec-always", SB_EUNSUPPORTED, "interactiveMode Always needs a "
                                       "terminal"},
      {NULL, SB_ECONFIG, "no current-context is set; choose one with "
                         "--context"},
  };
  size_t i;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(cases); i++) {
    sb_kubeconfig_opts o = {KC "/errors.json", cases[i].context, NULL};
    sb_kubeconfig *k = (sb_kubeconfig *) 1;
    char err[512];

    assert_int_equal(sb_kubeconfig_load(&o, &k, err, sizeof(err)),
                     cases[i].rc);
    assert_null(k);
    if (!strstr(err, cases[i].want))
      fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].want);
    assert_null(strchr(err, '\n'));
  }
}

static void broken_and_missing_files(void **state) {
  sb_kubeconfig_opts o = {KC "/broken.json", NULL, NULL};
  sb_kubeconfig *k;
  char err[512];

  (void) state;
  clear_env();
  assert_int_equal(sb_kubeconfig_load(&o, &k, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "kubeconfig " KC "/broken.json"));
  o.path = KC "/nothere.json";
  assert_int_equal(sb_kubeconfig_load(&o, &k, err, sizeof(err)),
                   SB_ECONFIG);
  assert_string_equal(err, "kubeconfig " KC "/nothere.json: No such file "
                      "or directory");
  setenv("KUBECONFIG", KC "/nothere.json", 1);
  assert_int_equal(sb_kubeconfig_load(NULL, &k, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "none of the listed files exists"));
  clear_env();
  setenv("HOME", "/nonexistent-home", 1);
  assert_int_equal(sb_kubeconfig_load(NULL, &k, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "no configuration: /nonexistent-home/.kube/"
                         "config does not exist"));
}

static void exec_config(void **state) {
  sb_kubeconfig *k = load_ok(KC "/errors.json", "exec");
  sb_kubeexec *x;
  char *info;
  cJSON *j;

  (void) state;
  x = k->exec;
  assert_non_null(x);
  assert_string_equal(x->api_version,
                      "client.authentication.k8s.io/v1beta1");
  assert_string_equal(x->command, KC "/./bin/plugin");
  assert_int_equal(x->nargs, 3);
  assert_string_equal(x->args[2], "prod");
  assert_int_equal(x->nenv, 1);
  assert_string_equal(x->env[0], "PLUGIN_MODE=test");
  assert_string_equal(x->install_hint,
                      "install it with: apt-get install plugin");
  assert_int_equal(x->provide_cluster_info, 1);
  assert_string_equal(x->interactive_mode, "IfAvailable");
  assert_int_equal(x->timeout_ms, 60000);

  info = sb__exec_info(k);
  j = cJSON_Parse(info);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItem(j, "kind")->valuestring,
                      "ExecCredential");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(
      cJSON_GetObjectItem(j, "spec"), "interactive")));
  assert_string_equal(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "spec"),
                                              "cluster"),
                          "server")->valuestring,
      "https://ok.example");
  cJSON_Delete(j);
  free(info);
  sb_kubeconfig_free(k);

  k = load_ok(KC "/errors.json", "exec-path");
  assert_string_equal(k->exec->command, "plugin-on-path");  /* PATH */
  assert_string_equal(k->exec->interactive_mode, "Never");
  info = sb__exec_info(k);
  assert_null(strstr(info, "cluster"));  /* provideClusterInfo off */
  free(info);
  sb_kubeconfig_free(k);

  k = load_ok(KC "/errors.json", "anon");
  assert_null(k->user_name);
  assert_null(k->token);
  assert_null(k->cert);
  sb_kubeconfig_free(k);
}

static void write_file(const char *dir, const char *name, const char *text,
                       int mode) {
  char path[512];
  FILE *f;

  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  chmod(path, (mode_t) mode);
}

static void in_cluster(void **state) {
  sb_kubeconfig_opts o = {NULL, NULL, tmpdir};
  sb_kubeconfig *k;
  char err[512], want[600];

  (void) state;
  clear_env();
  write_file(tmpdir, "token", "sa-token\n", 0600);
  write_file(tmpdir, "ca.crt", "-----BEGIN CERTIFICATE-----\n", 0644);
  write_file(tmpdir, "namespace", "smi-system\n", 0644);
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  assert_int_equal(sb_kubeconfig_load(&o, &k, err, sizeof(err)), 0);
  assert_string_equal(k->server, "https://10.0.0.1:443");
  assert_string_equal(k->origin, "in-cluster config");
  assert_string_equal(k->ns, "smi-system");
  assert_string_equal(k->ca, "-----BEGIN CERTIFICATE-----\n");
  snprintf(want, sizeof(want), "%s/token", tmpdir);
  assert_string_equal(k->token_file, want);
  assert_null(k->token);
  sb_kubeconfig_free(k);

  setenv("KUBERNETES_SERVICE_HOST", "fd00:10::1", 1);
  assert_int_equal(sb_kubeconfig_incluster(tmpdir, &k, err, sizeof(err)), 0);
  assert_string_equal(k->server, "https://[fd00:10::1]:443");
  sb_kubeconfig_free(k);

  /* KUBECONFIG still beats in-cluster. */
  setenv("KUBECONFIG", KC "/a.json", 1);
  assert_int_equal(sb_kubeconfig_load(&o, &k, err, sizeof(err)), 0);
  assert_string_equal(k->context, "ctx-a");
  sb_kubeconfig_free(k);
  unsetenv("KUBECONFIG");

  snprintf(want, sizeof(want), "%s/token", tmpdir);
  unlink(want);
  assert_int_equal(sb_kubeconfig_incluster(tmpdir, &k, err, sizeof(err)),
                   SB_ECONFIG);
  snprintf(want, sizeof(want), "in-cluster config: %s/token: No such file "
           "or directory", tmpdir);
  assert_string_equal(err, want);
  unsetenv("KUBERNETES_SERVICE_PORT");
  assert_int_equal(sb_kubeconfig_incluster(tmpdir, &k, err, sizeof(err)),
                   SB_ECONFIG);
  assert_non_null(strstr(err, "KUBERNETES_SERVICE_PORT"));
  clear_env();
}

static void pure_helpers(void **state) {
  char *s, *d;
  size_t n;
  int64_t t;

  (void) state;
  assert_int_equal(sb__b64_encode("hello!?", 7, &s), 0);
  assert_string_equal(s, "aGVsbG8hPw==");
  assert_int_equal(sb__b64_decode(s, strlen(s), &d, &n), 0);
  assert_int_equal(n, 7);
  assert_memory_equal(d, "hello!?", 7);
  free(s);
  free(d);
  assert_int_equal(sb__b64_decode("aGVs\nbG8=\n", 10, &d, &n), 0);
  assert_string_equal(d, "hello");
  free(d);
  assert_int_equal(sb__b64_decode("a$==", 4, &d, &n), SB_EPARSE);
  assert_int_equal(sb__b64_decode("aGVsbG8=x", 9, &d, &n), SB_EPARSE);

  assert_int_equal(sb_rfc3339_parse("1970-01-01T00:00:00Z", &t), 0);
  assert_int_equal(t, 0);
  assert_int_equal(sb_rfc3339_parse("2024-02-29T12:30:05.123456Z", &t), 0);
  assert_int_equal(t, 1709209805);
  assert_int_equal(sb_rfc3339_parse("2024-02-29T14:30:05+02:00", &t), 0);
  assert_int_equal(t, 1709209805);
  assert_int_equal(sb_rfc3339_parse("2024-02-29T12:30:05", &t), SB_EPARSE);
  assert_int_equal(sb_rfc3339_parse("2024-13-01T00:00:00Z", &t), SB_EPARSE);
  assert_int_equal(sb_rfc3339_parse("yesterday", &t), SB_EPARSE);
}

static void execcred_parsing(void **state) {
  static const char *v1 = "client.authentication.k8s.io/v1";
  static const struct {
    const char *json;
    const char *err;  /* NULL = parses */
  } cases[] = {
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"t1\","
       "\"expirationTimestamp\":\"2030-01-01T00:00:00Z\"}}", NULL},
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1\",\"status\":{"
       "\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\"}}",
       NULL},
      {"not json", "output is not JSON"},
      {"{\"kind\":\"Pod\"}", "kind is not ExecCredential"},
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1beta1\",\"status\":{\"token\":"
       "\"x\"}}", "does not match the configured"},
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1\"}", "no status"},
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1\",\"status\":{}}",
       "neither token nor"},
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1\",\"status\":{"
       "\"clientCertificateData\":\"CERT\"}}",
       "clientCertificateData without clientKeyData"},
      {"{\"kind\":\"ExecCredential\",\"apiVersion\":"
       "\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"t\","
       "\"expirationTimestamp\":\"soon\"}}", "not an RFC 3339 time"},
  };
  sb__execcred c;
  char err[256];
  size_t i;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(cases); i++) {
    int rc = sb__execcred_parse(cases[i].json, strlen(cases[i].json), v1,
                                &c, err, sizeof(err));

    if (!cases[i].err) {
      assert_int_equal(rc, 0);
      if (i == 0) {
        assert_string_equal(c.token, "t1");
        assert_int_equal(c.expiry, 1893456000);
      } else {
        assert_null(c.token);
        assert_string_equal(c.cert, "CERT");
        assert_int_equal(c.key_len, 3);
        assert_int_equal(c.expiry, 0);
      }
      sb__execcred_free(&c);
    } else {
      assert_int_equal(rc, SB_EPARSE);
      if (!strstr(err, cases[i].err))
        fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].err);
    }
  }
}

/* ---- run-time credentials on a loop ------------------------------------ */

typedef struct got {
  int calls;
  int err;
  char token[128];
  unsigned gen;
  char msg[1600];
} got;

static void on_creds(void *arg, int err, const sb_kubecred *cred,
                     const char *msg) {
  got *g = arg;

  g->calls++;
  g->err = err;
  snprintf(g->msg, sizeof(g->msg), "%s", msg);
  if (cred) {
    snprintf(g->token, sizeof(g->token), "%s",
             cred->token ? cred->token : "");
    g->gen = cred->gen;
  }
}

static void closed(void *arg) {
  (*(int *) arg)++;
}

static void finish(uv_loop_t *loop, sb_kubecreds *c) {
  int n = 0;

  sb_kubecreds_close(c, closed, &n);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(loop), 0);
}

static void token_file_rotates(void **state) {
  sb_kubeconfig k;
  sb_kubecreds *c;
  const sb_kubecred *cur;
  uv_loop_t loop;
  char path[512];
  unsigned gen;
  got g = {0};

  (void) state;
  memset(&k, 0, sizeof(k));
  snprintf(path, sizeof(path), "%s/rot-token", tmpdir);
  write_file(tmpdir, "rot-token", "one\n", 0600);
  k.origin = "kubeconfig test";
  k.token = "static-loses";
  k.token_file = path;
  k.token_reload_ms = 60000;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_true(sb_kubecreds_refreshable(c));
  cur = sb_kubecreds_peek(c);
  assert_non_null(cur);
  assert_string_equal(cur->token, "one");
  gen = cur->gen;
  /* Rotated on disk: the cache holds until the reload interval... */
  write_file(tmpdir, "rot-token", "two\n", 0600);
  assert_string_equal(sb_kubecreds_peek(c)->token, "one");
  /* ...or a refresh (after a 401) re-reads at once. */
  assert_int_equal(sb_kubecreds_refresh(c, gen, on_creds, &g), 0);
  assert_int_equal(g.calls, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.err, 0);
  assert_string_equal(g.token, "two");
  assert_true(g.gen != gen);
  /* Nothing changed on disk: same generation (the 401 is real). */
  memset(&g, 0, sizeof(g));
  gen = sb_kubecreds_peek(c)->gen;
  assert_int_equal(sb_kubecreds_refresh(c, gen, on_creds, &g), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.gen, gen);
  /* With no interval every peek reads the file. */
  k.token_reload_ms = 0;
  write_file(tmpdir, "rot-token", "three", 0600);
  assert_string_equal(sb_kubecreds_peek(c)->token, "three");
  /* A vanished file keeps the last good token. */
  unlink(path);
  assert_string_equal(sb_kubecreds_peek(c)->token, "three");
  finish(&loop, c);
}

/* A plugin that counts its runs, records KUBERNETES_EXEC_INFO and prints a
 * token whose expiry comes from $EXPIRY. */
static const char plugin[] =
    "#!/bin/sh\n"
    "dir=$(dirname \"$0\")\n"
    "n=$(cat \"$dir/runs\" 2>/dev/null || echo 0); n=$((n+1))\n"
    "echo $n > \"$dir/runs\"\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$dir/info\"\n"
    "[ -t 0 ] && echo tty > \"$dir/tty\"\n"
    "sleep 0.2\n"
    "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",'\n"
    "printf '\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s-%s\",'"
    " \"$1\" \"$n\"\n"
    "printf '\"expirationTimestamp\":\"%s\"}}' \"$EXPIRY\"\n";

static sb_kubeexec *make_exec(const char *cmd, const char *arg) {
  static char *args[1];
  static char *env[1];
  static sb_kubeexec x;

  memset(&x, 0, sizeof(x));
  x.api_version = "client.authentication.k8s.io/v1";
  x.command = (char *) cmd;
  args[0] = (char *) arg;
  x.args = args;
  x.nargs = 1;
  env[0] = "EXPIRY=2099-01-01T00:00:00Z";
  x.env = env;
  x.nenv = 1;
  x.interactive_mode = "Never";
  x.install_hint = "see the plugin's README";
  x.timeout_ms = 10000;
  return &x;
}

static void exec_plugin_runs_once_and_caches(void **state) {
  sb_kubeconfig k;
  sb_kubecreds *c;
  uv_loop_t loop;
  char cmd[512], *runs, *info, err[512];
  got g[3];
  int i;

  (void) state;
  memset(g, 0, sizeof(g));
  memset(&k, 0, sizeof(k));
  write_file(tmpdir, "plugin.sh", plugin, 0755);
  snprintf(cmd, sizeof(cmd), "%s/plugin.sh", tmpdir);
  snprintf(err, sizeof(err), "%s/runs", tmpdir);
  unlink(err);
  k.origin = "kubeconfig test";
  k.user_name = "u";
  k.server = "https://api.example:6443";
  k.exec = make_exec(cmd, "prod");
  k.exec->provide_cluster_info = 1;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_null(sb_kubecreds_peek(c));  /* must run first */
  /* Three concurrent requests wait for one run. */
  for (i = 0; i < 3; i++)
    assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g[i]), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  for (i = 0; i < 3; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].err, 0);
    assert_string_equal(g[i].token, "tok-prod-1");
  }
  assert_int_equal(sb__read_file(err, 100, &runs, NULL, err, 0), 0);
  assert_string_equal(runs, "1\n");
  free(runs);
  snprintf(err, sizeof(err), "%s/info", tmpdir);
  assert_int_equal(sb__read_file(err, 10000, &info, NULL, err, 0), 0);
  assert_non_null(strstr(info, "\"interactive\":false"));
  assert_non_null(strstr(info, "\"server\":\"https://api.example:6443\""));
  free(info);
  snprintf(err, sizeof(err), "%s/tty", tmpdir);
  assert_int_equal(access(err, F_OK), -1);  /* stdin was no terminal */
  /* Cached: no run, until a 401 asks for a new one with the old gen. */
  assert_string_equal(sb_kubecreds_peek(c)->token, "tok-prod-1");
  memset(g, 0, sizeof(g));
  assert_int_equal(sb_kubecreds_refresh(c, g[0].gen + 1, on_creds, &g[0]),
                   0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_string_equal(g[0].token, "tok-prod-1");  /* stale gen: no run */
  assert_int_equal(sb_kubecreds_refresh(c, g[0].gen, on_creds, &g[1]), 0);
  /* A second 401 for the same credential joins the run. */
  assert_int_equal(sb_kubecreds_refresh(c, g[0].gen, on_creds, &g[2]), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_string_equal(g[1].token, "tok-prod-2");
  assert_string_equal(g[2].token, "tok-prod-2");
  assert_true(g[1].gen > g[0].gen);
  finish(&loop, c);
}

static void exec_plugin_expiry(void **state) {
  sb_kubeconfig k;
  sb_kubecreds *c;
  uv_loop_t loop;
  char cmd[512];
  got g = {0};

  (void) state;
  memset(&k, 0, sizeof(k));
  snprintf(cmd, sizeof(cmd), "%s/plugin.sh", tmpdir);
  write_file(tmpdir, "plugin.sh", plugin, 0755);
  k.origin = "kubeconfig test";
  k.server = "https://api.example:6443";
  k.exec = make_exec(cmd, "exp");
  k.exec->env[0] = "EXPIRY=2001-01-01T00:00:00Z";
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.err, 0);
  assert_non_null(strstr(g.token, "tok-exp-"));
  /* Already expired: peek wants a new run. */
  assert_null(sb_kubecreds_peek(c));
  finish(&loop, c);
}

static void exec_plugin_failures(void **state) {
  sb_kubeconfig k;
  sb_kubecreds *c;
  uv_loop_t loop;
  char cmd[512];
  got g = {0};
  int n = 0;

  (void) state;
  memset(&k, 0, sizeof(k));
  k.origin = "kubeconfig /x/config";
  k.user_name = "dev";
  k.server = "https://api.example:6443";
  assert_int_equal(uv_loop_init(&loop), 0);

  /* Exit status and the tail of stderr, plus the install hint. */
  write_file(tmpdir, "fail.sh", "#!/bin/sh\necho 'first line' >&2\n"
             "echo 'token expired; run login' >&2\nexit 3\n", 0755);
  snprintf(cmd, sizeof(cmd), "%s/fail.sh", tmpdir);
  k.exec = make_exec(cmd, "x");
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.err, SB_EEXEC);
  assert_non_null(strstr(g.msg, "kubeconfig /x/config: user \"dev\": exec "
                         "plugin \""));
  assert_non_null(strstr(g.msg, "failed: exit status 3: first line token "
                         "expired; run login (see the plugin's README)"));
  sb_kubecreds_close(c, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);

  /* Not there at all. */
  snprintf(cmd, sizeof(cmd), "%s/no-such-plugin", tmpdir);
  k.exec = make_exec(cmd, "x");
  memset(&g, 0, sizeof(g));
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.err, SB_EEXEC);
  assert_non_null(strstr(g.msg, "executable not found (see the plugin's "
                         "README)"));
  sb_kubecreds_close(c, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);

  /* Garbage on stdout. */
  write_file(tmpdir, "junk.sh", "#!/bin/sh\necho hello\n", 0755);
  snprintf(cmd, sizeof(cmd), "%s/junk.sh", tmpdir);
  k.exec = make_exec(cmd, "x");
  memset(&g, 0, sizeof(g));
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.err, SB_EEXEC);
  assert_non_null(strstr(g.msg, "bad ExecCredential: output is not JSON"));
  sb_kubecreds_close(c, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);

  /* Hangs: killed after the timeout, even with a child holding stdout. */
  write_file(tmpdir, "hang.sh", "#!/bin/sh\nsleep 5 &\nsleep 5\n", 0755);
  snprintf(cmd, sizeof(cmd), "%s/hang.sh", tmpdir);
  k.exec = make_exec(cmd, "x");
  k.exec->timeout_ms = 300;
  memset(&g, 0, sizeof(g));
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.err, SB_ETIMEOUT);
  assert_non_null(strstr(g.msg, "no answer within 300 ms"));
  sb_kubecreds_close(c, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);

  /* Closing while a plugin runs cancels the waiters. */
  k.exec->timeout_ms = 10000;
  memset(&g, 0, sizeof(g));
  assert_int_equal(sb_kubecreds_new(&loop, &k, &c), 0);
  assert_int_equal(sb_kubecreds_refresh(c, 1, on_creds, &g), 0);
  sb_kubecreds_close(c, closed, &n);
  assert_int_equal(g.err, SB_ECANCELED);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(n, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static int setup(void **state) {
  (void) state;
  snprintf(tmpdir, sizeof(tmpdir), "%s/sb-kc-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  static const char *files[] = {"token", "ca.crt", "namespace", "rot-token",
                                "plugin.sh", "runs", "info", "fail.sh",
                                "junk.sh", "hang.sh", "tty"};
  char path[512];
  size_t i;

  (void) state;
  for (i = 0; i < SB_ARRAY_SIZE(files); i++) {
    snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
    unlink(path);
  }
  rmdir(tmpdir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(explicit_file_and_relative_paths),
      cmocka_unit_test(kubeconfig_env_merges_first_wins),
      cmocka_unit_test(config_errors_are_one_clear_line),
      cmocka_unit_test(broken_and_missing_files),
      cmocka_unit_test(exec_config),
      cmocka_unit_test(in_cluster),
      cmocka_unit_test(pure_helpers),
      cmocka_unit_test(execcred_parsing),
      cmocka_unit_test(token_file_rotates),
      cmocka_unit_test(exec_plugin_runs_once_and_caches),
      cmocka_unit_test(exec_plugin_expiry),
      cmocka_unit_test(exec_plugin_failures),
  };

  clear_env();
  return cmocka_run_group_tests(tests, setup, teardown);
}
