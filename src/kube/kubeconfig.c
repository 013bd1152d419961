/* kubeconfig.c -- kubeconfig files and the in-cluster service account,
 * resolved into one sb_kubeconfig.
 *
 * Files are parsed with the doc module (YAML) and kept as cJSON trees while
 * loading. Merging follows kubectl: the named lists of every file are
 * walked in order and the first definition of a name wins, so nothing is
 * copied until the chosen context is resolved. Each entry remembers the
 * file it came from, because relative paths are relative to that file and
 * error messages name it.
 */
#include "sb/kubeconfig.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube-int.h"
#include "sb/buf.h"
#include "sb/diag.h"
#include "sb/doc.h"
#include "sb/err.h"

#define MAX_KUBECONFIG ((size_t) 16 * 1024 * 1024)
#define MAX_PEM ((size_t) 4 * 1024 * 1024)
#define MAX_FILES 64
#define DEFAULT_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

typedef struct kfile {
  char *path;
  char *dir;
  cJSON *root;
} kfile;

typedef struct entry {
  const char *name;
  const cJSON *node;  /* the inner object ("cluster", "user", "context") */
  const kfile *file;
} entry;

typedef struct elist {
  entry *v;
  size_t n;
} elist;

typedef struct loader {
  kfile files[MAX_FILES];
  size_t nfiles;
  elist clusters, users, contexts;
  const char *current;
  char *err;
  size_t errlen;
} loader;

static int fail(loader *l, int rc, const char *fmt, ...) SB_PRINTF(3, 4);

static int fail(loader *l, int rc, const char *fmt, ...) {
  va_list ap;

  if (l->errlen) {
    va_start(ap, fmt);
    vsnprintf(l->err, l->errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

static int set_str(char **dst, const char *src) {
  size_t n;

  *dst = NULL;
  if (!src)
    return 0;
  n = strlen(src) + 1;
  *dst = malloc(n);
  if (!*dst)
    return SB_ENOMEM;
  memcpy(*dst, src, n);
  return 0;
}

/* dir/path unless path is absolute. Caller frees. */
static char *join_path(const char *dir, const char *path) {
  sb_buf b;

  sb_buf_init(&b, SB_BUF_UNLIMITED);
  if (path[0] == '/' || !dir || !*dir)
    sb_buf_adds(&b, path);
  else
    sb_buf_addf(&b, "%s/%s", dir, path);
  return sb_buf_steal(&b, NULL);
}

static int first_doc(void *arg, sb_doc *doc) {
  cJSON **root = arg;

  if (!*root)
    *root = sb_doc_take_root(doc);
  sb_doc_free(doc);
  return 0;
}

static int add_file(loader *l, const char *path) {
  kfile *f = &l->files[l->nfiles];
  char ebuf[256], *data = NULL;
  const char *slash;
  size_t len;
  sb_diags diags;
  int rc;

  if (l->nfiles == MAX_FILES)
    return fail(l, SB_ECONFIG, "too many kubeconfig files (at most %d)",
                MAX_FILES);
  rc = sb__read_file(path, MAX_KUBECONFIG, &data, &len, ebuf, sizeof(ebuf));
  if (rc)
    return fail(l, rc == SB_ENOMEM ? rc : SB_ECONFIG, "kubeconfig %s: %s",
                path, ebuf);
  memset(f, 0, sizeof(*f));
  if (set_str(&f->path, path)) {
    free(data);
    return SB_ENOMEM;
  }
  slash = strrchr(path, '/');
  if (!slash) {
    set_str(&f->dir, ".");
  } else {
    size_t dn = slash == path ? 1 : (size_t) (slash - path);

    f->dir = malloc(dn + 1);
    if (f->dir) {
      memcpy(f->dir, path, dn);
      f->dir[dn] = '\0';
    }
  }
  l->nfiles++;
  if (!f->dir) {
    free(data);
    return SB_ENOMEM;
  }
  sb_diags_init(&diags);
  rc = sb_doc_parse(path, data, len, NULL, first_doc, &f->root, &diags);
  free(data);
  if (rc) {
    sb_buf msg;

    sb_buf_init(&msg, 1024);
    if (diags.n)
      sb_diag_format(&diags.v[0], &msg);
    else
      sb_buf_addf(&msg, "%s", sb_strerror(rc));
    rc = fail(l, rc == SB_ENOMEM ? rc : SB_ECONFIG, "kubeconfig %s",
              sb_buf_cstr(&msg));
    sb_buf_free(&msg);
    sb_diags_free(&diags);
    return rc;
  }
  sb_diags_free(&diags);
  if (f->root && !cJSON_IsObject(f->root) && !cJSON_IsNull(f->root))
    return fail(l, SB_ECONFIG, "kubeconfig %s: not a kubeconfig (want a "
                "mapping at the top)", path);
  return 0;
}

static const entry *find(const elist *e, const char *name) {
  size_t i;

  for (i = 0; i < e->n; i++)
    if (strcmp(e->v[i].name, name) == 0)
      return &e->v[i];
  return NULL;
}

/* Adds the entries of one named list of one file; earlier names win. */
static int merge_list(loader *l, const kfile *f, const char *list,
                      const char *inner, elist *e) {
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(f->root, list), *it;

  if (!arr || cJSON_IsNull(arr))
    return 0;
  if (!cJSON_IsArray(arr))
    return fail(l, SB_ECONFIG, "kubeconfig %s: %s: want a list", f->path,
                list);
  cJSON_ArrayForEach(it, arr) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
    const cJSON *node = cJSON_GetObjectItemCaseSensitive(it, inner);
    entry *v;

    if (!cJSON_IsString(name) || !*name->valuestring)
      return fail(l, SB_ECONFIG, "kubeconfig %s: %s: an entry has no name",
                  f->path, list);
    if (node && !cJSON_IsObject(node))
      return fail(l, SB_ECONFIG, "kubeconfig %s: %s \"%s\": %s: want a "
                  "mapping", f->path, inner, name->valuestring, inner);
    if (find(e, name->valuestring))
      continue;
    v = realloc(e->v, (e->n + 1) * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    e->v = v;
    e->v[e->n].name = name->valuestring;
    e->v[e->n].node = node;
    e->v[e->n].file = f;
    e->n++;
  }
  return 0;
}

static int merge(loader *l) {
  size_t i;
  int rc;

  for (i = 0; i < l->nfiles; i++) {
    const kfile *f = &l->files[i];
    const cJSON *cur;

    if (!f->root || cJSON_IsNull(f->root))
      continue;
    if ((rc = merge_list(l, f, "clusters", "cluster", &l->clusters)) ||
        (rc = merge_list(l, f, "users", "user", &l->users)) ||
        (rc = merge_list(l, f, "contexts", "context", &l->contexts)))
      return rc;
    cur = cJSON_GetObjectItemCaseSensitive(f->root, "current-context");
    if (!l->current && cJSON_IsString(cur) && *cur->valuestring)
      l->current = cur->valuestring;
  }
  return 0;
}

static void loader_free(loader *l) {
  size_t i;

  for (i = 0; i < l->nfiles; i++) {
    free(l->files[i].path);
    free(l->files[i].dir);
    cJSON_Delete(l->files[i].root);
  }
  free(l->clusters.v);
  free(l->users.v);
  free(l->contexts.v);
}

/* "a, b, c" for messages. */
static void names(const elist *e, char *out, size_t outlen) {
  sb_buf b;
  size_t i;

  sb_buf_init(&b, outlen > 1 ? outlen - 1 : 1);
  for (i = 0; i < e->n; i++)
    if (sb_buf_addf(&b, "%s%s", i ? ", " : "", e->v[i].name))
      break;
  snprintf(out, outlen, "%s", e->n ? sb_buf_cstr(&b) : "none");
  sb_buf_free(&b);
}

/* A string field; SB_ECONFIG when present with another type. */
static int get_str(loader *l, const entry *e, const char *what,
                   const char *key, const char **out) {
  const cJSON *v = e->node ? cJSON_GetObjectItemCaseSensitive(e->node, key)
                           : NULL;

  *out = NULL;
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsString(v))
    return fail(l, SB_ECONFIG, "kubeconfig %s: %s \"%s\": %s: want a string",
                e->file->path, what, e->name, key);
  *out = *v->valuestring ? v->valuestring : NULL;
  return 0;
}

static int get_bool(loader *l, const entry *e, const char *what,
                    const char *key, int *out) {
  const cJSON *v = e->node ? cJSON_GetObjectItemCaseSensitive(e->node, key)
                           : NULL;

  *out = 0;
  if (!v || cJSON_IsNull(v))
    return 0;
  if (cJSON_IsBool(v)) {
    *out = cJSON_IsTrue(v);
    return 0;
  }
  if (cJSON_IsString(v) && (strcmp(v->valuestring, "true") == 0 ||
                            strcmp(v->valuestring, "false") == 0)) {
    *out = v->valuestring[0] == 't';
    return 0;
  }
  return fail(l, SB_ECONFIG, "kubeconfig %s: %s \"%s\": %s: want true or "
              "false", e->file->path, what, e->name, key);
}

/* PEM from "<key>-data" (base64) or from the file "<key>". */
static int get_pem(loader *l, const entry *e, const char *what,
                   const char *key, char **out, size_t *outlen) {
  char datakey[64], ebuf[256], *path;
  const char *data, *file;
  int rc;

  *out = NULL;
  *outlen = 0;
  snprintf(datakey, sizeof(datakey), "%s-data", key);
  if ((rc = get_str(l, e, what, datakey, &data)) ||
      (rc = get_str(l, e, what, key, &file)))
    return rc;
  if (data) {
    rc = sb__b64_decode(data, strlen(data), out, outlen);
    if (rc == SB_EPARSE)
      return fail(l, SB_ECONFIG, "kubeconfig %s: %s \"%s\": %s: not valid "
                  "base64", e->file->path, what, e->name, datakey);
    return rc;
  }
  if (!file)
    return 0;
  path = join_path(e->file->dir, file);
  if (!path)
    return SB_ENOMEM;
  rc = sb__read_file(path, MAX_PEM, out, outlen, ebuf, sizeof(ebuf));
  if (rc && rc != SB_ENOMEM)
    rc = fail(l, SB_ECONFIG, "kubeconfig %s: %s \"%s\": %s \"%s\": %s",
              e->file->path, what, e->name, key, path, ebuf);
  free(path);
  return rc;
}

static int str_list(loader *l, const entry *e, const cJSON *arr,
                    const char *key, char ***out, size_t *n) {
  const cJSON *it;
  size_t i = 0;

  *out = NULL;
  *n = 0;
  if (!arr || cJSON_IsNull(arr))
    return 0;
  if (!cJSON_IsArray(arr))
    return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: %s: want "
                "a list", e->file->path, e->name, key);
  *out = calloc((size_t) cJSON_GetArraySize(arr) + 1, sizeof(char *));
  if (!*out)
    return SB_ENOMEM;
  cJSON_ArrayForEach(it, arr) {
    if (strcmp(key, "env") == 0) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
      const cJSON *val = cJSON_GetObjectItemCaseSensitive(it, "value");
      sb_buf b;

      if (!cJSON_IsString(nm) || !*nm->valuestring ||
          (val && !cJSON_IsString(val)))
        return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: env: "
                    "each entry needs a name and a string value",
                    e->file->path, e->name);
      sb_buf_init(&b, SB_BUF_UNLIMITED);
      sb_buf_addf(&b, "%s=%s", nm->valuestring,
                  val ? val->valuestring : "");
      (*out)[i] = sb_buf_steal(&b, NULL);
    } else {
      if (!cJSON_IsString(it))
        return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: %s: "
                    "want strings", e->file->path, e->name, key);
      set_str(&(*out)[i], it->valuestring);
    }
    if (!(*out)[i])
      return SB_ENOMEM;
    *n = ++i;
  }
  return 0;
}

static void exec_free(sb_kubeexec *x) {
  size_t i;

  if (!x)
    return;
  free(x->api_version);
  free(x->command);
  for (i = 0; x->args && i < x->nargs; i++)
    free(x->args[i]);
  free(x->args);
  for (i = 0; x->env && i < x->nenv; i++)
    free(x->env[i]);
  free(x->env);
  free(x->install_hint);
  free(x->interactive_mode);
  free(x);
}

static int load_exec(loader *l, const entry *u, const cJSON *node,
                     sb_kubeexec **out) {
  entry e = *u;
  const char *api, *cmd, *hint, *mode;
  sb_kubeexec *x;
  int rc;

  e.node = node;
  if (!cJSON_IsObject(node))
    return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: want a "
                "mapping", u->file->path, u->name);
  if ((rc = get_str(l, &e, "user", "apiVersion", &api)) ||
      (rc = get_str(l, &e, "user", "command", &cmd)) ||
      (rc = get_str(l, &e, "user", "installHint", &hint)) ||
      (rc = get_str(l, &e, "user", "interactiveMode", &mode)))
    return rc;
  if (!api || (strcmp(api, EXEC_V1) && strcmp(api, EXEC_V1BETA1)))
    return fail(l, SB_EUNSUPPORTED, "kubeconfig %s: user \"%s\": exec: "
                "apiVersion \"%s\" is not supported (want %s or %s)",
                u->file->path, u->name, api ? api : "", EXEC_V1,
                EXEC_V1BETA1);
  if (!cmd)
    return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: command "
                "is required", u->file->path, u->name);
  if (!mode && strcmp(api, EXEC_V1) == 0)
    return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: "
                "interactiveMode is required for %s", u->file->path,
                u->name, EXEC_V1);
  if (!mode)
    mode = "IfAvailable";
  if (strcmp(mode, "Never") && strcmp(mode, "IfAvailable") &&
      strcmp(mode, "Always"))
    return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": exec: "
                "interactiveMode \"%s\" is not one of Never, IfAvailable, "
                "Always", u->file->path, u->name, mode);
  if (strcmp(mode, "Always") == 0)
    return fail(l, SB_EUNSUPPORTED, "kubeconfig %s: user \"%s\": exec: "
                "interactiveMode Always needs a terminal, and smi-bridge "
                "has none", u->file->path, u->name);
  x = calloc(1, sizeof(*x));
  if (!x)
    return SB_ENOMEM;
  *out = x;
  x->timeout_ms = 60000;
  if ((rc = set_str(&x->api_version, api)) ||
      (rc = set_str(&x->install_hint, hint)) ||
      (rc = set_str(&x->interactive_mode, mode)))
    return rc;
  /* A command with a slash but not absolute is relative to the file. */
  if (strchr(cmd, '/'))
    x->command = join_path(u->file->dir, cmd);
  else
    set_str(&x->command, cmd);
  if (!x->command)
    return SB_ENOMEM;
  if ((rc = str_list(l, u, cJSON_GetObjectItemCaseSensitive(node, "args"),
                     "args", &x->args, &x->nargs)) ||
      (rc = str_list(l, u, cJSON_GetObjectItemCaseSensitive(node, "env"),
                     "env", &x->env, &x->nenv)) ||
      (rc = get_bool(l, &e, "user", "provideClusterInfo",
                     &x->provide_cluster_info)))
    return rc;
  return 0;
}

static int load_cluster(loader *l, const entry *c, sb_kubeconfig *k) {
  const char *server, *tsn, *proxy;
  size_t n;
  int rc;

  if ((rc = get_str(l, c, "cluster", "server", &server)) ||
      (rc = get_str(l, c, "cluster", "tls-server-name", &tsn)) ||
      (rc = get_str(l, c, "cluster", "proxy-url", &proxy)) ||
      (rc = get_bool(l, c, "cluster", "insecure-skip-tls-verify",
                     &k->insecure)))
    return rc;
  if (!server)
    return fail(l, SB_ECONFIG, "kubeconfig %s: cluster \"%s\": server is "
                "required", c->file->path, c->name);
  if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
    return fail(l, SB_ECONFIG, "kubeconfig %s: cluster \"%s\": server "
                "\"%s\": want an http:// or https:// URL", c->file->path,
                c->name, server);
  if ((rc = set_str(&k->server, server)) ||
      (rc = set_str(&k->tls_server_name, tsn)) ||
      (rc = set_str(&k->proxy_url, proxy)))
    return rc;
  n = strlen(k->server);
  while (n > 0 && k->server[n - 1] == '/')
    k->server[--n] = '\0';
  rc = get_pem(l, c, "cluster", "certificate-authority", &k->ca, &k->ca_len);
  if (rc)
    return rc;
  if (k->ca && k->insecure)
    return fail(l, SB_ECONFIG, "kubeconfig %s: cluster \"%s\": "
                "insecure-skip-tls-verify and a certificate authority "
                "exclude each other", c->file->path, c->name);
  return 0;
}

static int load_user(loader *l, const entry *u, sb_kubeconfig *k) {
  const char *token, *tfile, *user, *pass;
  const cJSON *ap, *ex;
  int rc;

  if ((rc = get_str(l, u, "user", "username", &user)) ||
      (rc = get_str(l, u, "user", "password", &pass)))
    return rc;
  if (user || pass)
    return fail(l, SB_EUNSUPPORTED, "kubeconfig %s: user \"%s\": username/"
                "password (basic auth) is not supported; use a token, a "
                "client certificate or an exec plugin", u->file->path,
                u->name);
  ap = u->node ? cJSON_GetObjectItemCaseSensitive(u->node, "auth-provider")
               : NULL;
  if (ap && !cJSON_IsNull(ap)) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(ap, "name");

    return fail(l, SB_EUNSUPPORTED, "kubeconfig %s: user \"%s\": "
                "auth-provider \"%s\" is not supported; use an exec "
                "credential plugin", u->file->path, u->name,
                cJSON_IsString(nm) ? nm->valuestring : "");
  }
  if ((rc = get_pem(l, u, "user", "client-certificate", &k->cert,
                    &k->cert_len)) ||
      (rc = get_pem(l, u, "user", "client-key", &k->key, &k->key_len)))
    return rc;
  if (!k->cert != !k->key)
    return fail(l, SB_ECONFIG, "kubeconfig %s: user \"%s\": %s without %s",
                u->file->path, u->name,
                k->cert ? "client-certificate" : "client-key",
                k->cert ? "client-key" : "client-certificate");
  if ((rc = get_str(l, u, "user", "token", &token)) ||
      (rc = get_str(l, u, "user", "tokenFile", &tfile)) ||
      (rc = set_str(&k->token, token)))
    return rc;
  if (tfile) {
    char ebuf[256], *data = NULL;

    k->token_file = join_path(u->file->dir, tfile);
    if (!k->token_file)
      return SB_ENOMEM;
    /* Fail at start-up, not at the first request. */
    rc = sb__read_file(k->token_file, 1 << 20, &data, NULL, ebuf,
                       sizeof(ebuf));
    free(data);
    if (rc)
      return fail(l, rc == SB_ENOMEM ? rc : SB_ECONFIG, "kubeconfig %s: "
                  "user \"%s\": tokenFile \"%s\": %s", u->file->path,
                  u->name, k->token_file, ebuf);
  }
  ex = u->node ? cJSON_GetObjectItemCaseSensitive(u->node, "exec") : NULL;
  if (ex && !cJSON_IsNull(ex))
    return load_exec(l, u, ex, &k->exec);
  return 0;
}

static int resolve(loader *l, const char *want, sb_kubeconfig *k) {
  const entry *ctx, *cl, *us = NULL;
  const char *cname, *uname, *ns;
  char avail[512];
  int rc;

  if (!want)
    want = l->current;
  if (!want) {
    names(&l->contexts, avail, sizeof(avail));
    return fail(l, SB_ECONFIG, "kubeconfig %s: no current-context is set; "
                "choose one with --context (contexts: %s)", l->files[0].path,
                avail);
  }
  ctx = find(&l->contexts, want);
  if (!ctx) {
    names(&l->contexts, avail, sizeof(avail));
    return fail(l, SB_ECONFIG, "kubeconfig %s: context \"%s\" not found "
                "(contexts: %s)", l->files[0].path, want, avail);
  }
  if ((rc = get_str(l, ctx, "context", "cluster", &cname)) ||
      (rc = get_str(l, ctx, "context", "user", &uname)) ||
      (rc = get_str(l, ctx, "context", "namespace", &ns)))
    return rc;
  if (!cname)
    return fail(l, SB_ECONFIG, "kubeconfig %s: context \"%s\": cluster is "
                "required", ctx->file->path, ctx->name);
  cl = find(&l->clusters, cname);
  if (!cl)
    return fail(l, SB_ECONFIG, "kubeconfig %s: context \"%s\": cluster "
                "\"%s\" not found", ctx->file->path, ctx->name, cname);
  if (uname) {
    us = find(&l->users, uname);
    if (!us)
      return fail(l, SB_ECONFIG, "kubeconfig %s: context \"%s\": user "
                  "\"%s\" not found", ctx->file->path, ctx->name, uname);
  }
  {
    sb_buf o;

    sb_buf_init(&o, SB_BUF_UNLIMITED);
    sb_buf_addf(&o, "kubeconfig %s", ctx->file->path);
    k->origin = sb_buf_steal(&o, NULL);
  }
  if (!k->origin || (rc = set_str(&k->context, ctx->name)) ||
      (rc = set_str(&k->cluster_name, cl->name)) ||
      (rc = set_str(&k->user_name, uname)) || (rc = set_str(&k->ns, ns)))
    return SB_ENOMEM;
  if ((rc = load_cluster(l, cl, k)))
    return rc;
  return us ? load_user(l, us, k) : 0;
}

static int file_exists(const char *path) {
  struct stat st;

  return stat(path, &st) == 0;
}

int sb_kubeconfig_load(const sb_kubeconfig_opts *o, sb_kubeconfig **out,
                       char *err, size_t errlen) {
  sb_kubeconfig_opts none = {0};
  loader l;
  sb_kubeconfig *k;
  const char *env = getenv("KUBECONFIG");
  int rc = 0;

  *out = NULL;
  if (errlen)
    err[0] = '\0';
  if (!o)
    o = &none;
  memset(&l, 0, sizeof(l));
  l.err = err;
  l.errlen = errlen;
  if (o->path && *o->path) {
    rc = add_file(&l, o->path);
  } else if (env && *env) {
    const char *p = env;

    while (!rc && *p) {
      const char *end = strchr(p, ':');
      size_t n = end ? (size_t) (end - p) : strlen(p);
      char *one = n ? malloc(n + 1) : NULL;

      if (n && !one)
        rc = SB_ENOMEM;
      if (one) {
        memcpy(one, p, n);
        one[n] = '\0';
        if (file_exists(one))
          rc = add_file(&l, one);
        free(one);
      }
      p += n + (end ? 1 : 0);
    }
    if (!rc && l.nfiles == 0)
      rc = fail(&l, SB_ECONFIG, "KUBECONFIG=%s: none of the listed files "
                "exists", env);
  } else if (getenv("KUBERNETES_SERVICE_HOST")) {
    return sb_kubeconfig_incluster(o->sa_dir, out, err, errlen);
  } else {
    const char *home = getenv("HOME");
    char *path = join_path(home ? home : "", ".kube/config");

    if (!path)
      return SB_ENOMEM;
    if (home && file_exists(path))
      rc = add_file(&l, path);
    else
      rc = fail(&l, SB_ECONFIG, "no configuration: %s does not exist; set "
                "--kubeconfig or KUBECONFIG, or run inside a cluster", path);
    free(path);
  }
  if (!rc)
    rc = merge(&l);
  k = calloc(1, sizeof(*k));
  if (!rc && !k)
    rc = SB_ENOMEM;
  if (!rc) {
    k->token_reload_ms = 60000;
    rc = resolve(&l, o->context && *o->context ? o->context : NULL, k);
  }
  if (rc == SB_ENOMEM)
    fail(&l, rc, "out of memory");
  loader_free(&l);
  if (rc) {
    sb_kubeconfig_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

static int read_sa(const char *dir, const char *name, size_t max,
                   char **data, size_t *len, char *err, size_t errlen) {
  char *path = join_path(dir, name), ebuf[256];
  int rc;

  if (!path)
    return SB_ENOMEM;
  rc = sb__read_file(path, max, data, len, ebuf, sizeof(ebuf));
  if (rc && errlen)
    snprintf(err, errlen, "in-cluster config: %s: %s", path, ebuf);
  free(path);
  return rc == SB_ENOMEM ? rc : rc ? SB_ECONFIG : 0;
}

int sb_kubeconfig_incluster(const char *sa_dir, sb_kubeconfig **out,
                            char *err, size_t errlen) {
  const char *host = getenv("KUBERNETES_SERVICE_HOST");
  const char *port = getenv("KUBERNETES_SERVICE_PORT");
  sb_kubeconfig *k;
  char *tok = NULL, *ns = NULL;
  sb_buf b;
  int rc;

  *out = NULL;
  if (!sa_dir)
    sa_dir = DEFAULT_SA_DIR;
  if (!host || !*host || !port || !*port) {
    if (errlen)
      snprintf(err, errlen, "in-cluster config: KUBERNETES_SERVICE_HOST "
               "and KUBERNETES_SERVICE_PORT must be set");
    return SB_ECONFIG;
  }
  k = calloc(1, sizeof(*k));
  if (!k)
    return SB_ENOMEM;
  k->token_reload_ms = 60000;
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  if (strchr(host, ':') && host[0] != '[')
    sb_buf_addf(&b, "https://[%s]:%s", host, port);
  else
    sb_buf_addf(&b, "https://%s:%s", host, port);
  k->server = sb_buf_steal(&b, NULL);
  rc = set_str(&k->origin, "in-cluster config");
  k->token_file = join_path(sa_dir, "token");
  if (!rc && (!k->server || !k->token_file))
    rc = SB_ENOMEM;
  /* The token is read again by the credential source; read it once here
   * so that a missing one fails at start-up. */
  if (!rc)
    rc = read_sa(sa_dir, "token", 1 << 20, &tok, NULL, err, errlen);
  if (!rc)
    rc = read_sa(sa_dir, "ca.crt", MAX_PEM, &k->ca, &k->ca_len, err, errlen);
  if (!rc && read_sa(sa_dir, "namespace", 4096, &ns, NULL, NULL, 0) == 0) {
    size_t n = strlen(ns);

    while (n && (ns[n - 1] == '\n' || ns[n - 1] == ' '))
      ns[--n] = '\0';
    if (n)
      k->ns = ns;
    else
      free(ns);
  }
  free(tok);
  if (rc) {
    sb_kubeconfig_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

void sb_kubeconfig_free(sb_kubeconfig *k) {
  if (!k)
    return;
  free(k->origin);
  free(k->context);
  free(k->cluster_name);
  free(k->user_name);
  free(k->ns);
  free(k->server);
  free(k->ca);
  free(k->cert);
  if (k->key) {
    memset(k->key, 0, k->key_len);
    free(k->key);
  }
  free(k->tls_server_name);
  free(k->proxy_url);
  free(k->token);
  free(k->token_file);
  exec_free(k->exec);
  free(k);
}
