/* kubeconfig.h -- where the API server is and how to authenticate to it.
 *
 * Two halves:
 *
 * 1. Loading (sb_kubeconfig_load): kubeconfig files or the in-cluster
 *    service account, resolved into one sb_kubeconfig -- server URL, TLS
 *    material as PEM blobs, and the credential source (static token, token
 *    file, client certificate or exec plugin). Loading reads files but runs
 *    nothing; every error is one line naming the file and the field:
 *      kubeconfig /x/config: user "u": client-key "/k.pem": No such file
 *      or directory
 *
 *    Which configuration (the controller-runtime order):
 *      - opts->path (--kubeconfig): that file only;
 *      - else $KUBECONFIG, a ':' list merged like kubectl: for clusters,
 *        users and contexts the first file that defines a name wins;
 *        current-context comes from the first file that sets it; listed
 *        files that do not exist are skipped;
 *      - else in-cluster, when KUBERNETES_SERVICE_HOST is set;
 *      - else ~/.kube/config.
 *    opts->context (--context) picks a context (an error lists the ones
 *    that exist). Relative file paths in a kubeconfig (certificate-
 *    authority, client-certificate, client-key, tokenFile, an exec command
 *    containing '/') are relative to the directory of the file that holds
 *    them. *-data fields win over their file counterparts. username/
 *    password and auth-provider are refused with SB_EUNSUPPORTED.
 *
 * 2. Credentials (sb_kubecreds_*): the runtime side, on the event loop.
 *    Token files are re-read every token_reload_ms (bound service-account
 *    tokens rotate) and whenever a refresh is asked for (after a 401).
 *    Exec plugins run asynchronously (uv_spawn, stdin not a terminal,
 *    KUBERNETES_EXEC_INFO set); their ExecCredential is cached until its
 *    expirationTimestamp and re-run on refresh; concurrent refreshes share
 *    one run.
 */
#ifndef SB_KUBECONFIG_H
#define SB_KUBECONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* A client.authentication.k8s.io exec credential plugin. */
typedef struct sb_kubeexec {
  char *api_version;       /* client.authentication.k8s.io/v1 or v1beta1 */
  char *command;           /* relative paths already resolved */
  char **args;             /* nargs strings */
  size_t nargs;
  char **env;              /* nenv "NAME=value" strings, added to ours */
  size_t nenv;
  char *install_hint;      /* may be NULL */
  int provide_cluster_info;
  char *interactive_mode;  /* "Never" or "IfAvailable" ("Always" is
                              refused: there is no terminal) */
  unsigned timeout_ms;     /* one run; default 60 s */
} sb_kubeexec;

typedef struct sb_kubeconfig {
  char *origin;            /* "kubeconfig /path" or "in-cluster config":
                              the prefix of messages about this config */
  char *context;           /* names as in the file; NULL in-cluster */
  char *cluster_name;
  char *user_name;
  char *ns;                /* the context's namespace, or NULL */
  char *server;            /* "https://host:port" (no trailing '/') */
  char *ca;                /* PEM, or NULL for the system store */
  size_t ca_len;
  char *cert;              /* client certificate + key, PEM, or NULL */
  size_t cert_len;
  char *key;
  size_t key_len;
  int insecure;            /* insecure-skip-tls-verify */
  char *tls_server_name;
  char *proxy_url;
  char *token;             /* static bearer token, or NULL */
  char *token_file;        /* re-read periodically; wins over token */
  unsigned token_reload_ms;  /* default 60 s; 0 = read every time */
  sb_kubeexec *exec;       /* NULL unless an exec plugin authenticates */
} sb_kubeconfig;

typedef struct sb_kubeconfig_opts {
  const char *path;        /* --kubeconfig, or NULL */
  const char *context;     /* --context, or NULL */
  /* Test hook: the service-account directory in-cluster (default
   * /var/run/secrets/kubernetes.io/serviceaccount). */
  const char *sa_dir;
} sb_kubeconfig_opts;

/* Loads and resolves the configuration (see above). On error writes one
 * line to err (when errlen > 0) and returns SB_ECONFIG, SB_EUNSUPPORTED or
 * SB_ENOMEM. Caller frees *out with sb_kubeconfig_free. */
int sb_kubeconfig_load(const sb_kubeconfig_opts *o, sb_kubeconfig **out,
                       char *err, size_t errlen);
/* In-cluster only: KUBERNETES_SERVICE_HOST/PORT (an IPv6 host gets
 * brackets), sa_dir/token (as token_file), sa_dir/ca.crt and
 * sa_dir/namespace. sa_dir NULL = the default directory. */
int sb_kubeconfig_incluster(const char *sa_dir, sb_kubeconfig **out,
                            char *err, size_t errlen);
void sb_kubeconfig_free(sb_kubeconfig *c);

/* ---- credentials at run time ------------------------------------------- */

typedef struct sb_kubecreds sb_kubecreds;

/* What to authenticate a request with. Pointers are owned by the
 * sb_kubecreds and valid until control returns to the loop. */
typedef struct sb_kubecred {
  const char *token;       /* bearer token, or NULL */
  const char *cert;        /* client certificate/key PEM, or NULL */
  size_t cert_len;
  const char *key;
  size_t key_len;
  unsigned gen;            /* bumped whenever the credential changes */
} sb_kubecred;

/* Called once per successful sb_kubecreds_refresh, always from the loop.
 * On error, cred is NULL and msg says why in one line (a plugin's failure
 * includes the tail of its stderr and its installHint). */
typedef void (*sb_kubecreds_cb)(void *arg, int err, const sb_kubecred *cred,
                                const char *msg);

/* cfg must outlive the creds. Caller closes with sb_kubecreds_close. */
int sb_kubecreds_new(uv_loop_t *loop, const sb_kubeconfig *cfg,
                     sb_kubecreds **out);
/* The current credential when it can be used without waiting: static
 * material, a token file (re-read here when due), or an unexpired exec
 * credential. NULL when an exec plugin must run first (call refresh). */
const sb_kubecred *sb_kubecreds_peek(sb_kubecreds *c);
/* 1 when a refresh can change the credential (token file, exec plugin). */
int sb_kubecreds_refreshable(const sb_kubecreds *c);
/* Obtains a fresh credential: re-reads the token file or runs the exec
 * plugin -- unless the credential has already changed since `stale_gen`
 * (someone else refreshed after the same 401), in which case the current
 * one is reported. Concurrent callers share one plugin run. The callback
 * runs exactly once, from the loop, unless this returns an error
 * (SB_ENOMEM, SB_ECLOSING). */
int sb_kubecreds_refresh(sb_kubecreds *c, unsigned stale_gen,
                         sb_kubecreds_cb cb, void *arg);
/* Kills a running plugin, fails waiting refreshes with SB_ECANCELED (their
 * callbacks run from inside this call), closes every handle, then calls
 * cb(arg) from the loop; c is freed by then. */
void sb_kubecreds_close(sb_kubecreds *c, void (*cb)(void *arg), void *arg);

#endif
