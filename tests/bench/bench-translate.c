/* bench-translate.c -- how much translation costs over reading and writing
 * the same YAML.
 *
 * Generates N mixed SMI objects (TrafficSplits of every version with 2-5
 * backends, some with matches; HTTPRouteGroups; TCPRoutes; TrafficTargets
 * with HTTP and TCP rules) plus the Services and Pods they need, from a
 * fixed seed, into two temporary files (sources and context). Then times:
 *
 *   baseline      sb_doc_parse both files (libyaml -> cJSON) and
 *                 sb_emit_yaml every document again: the floor any YAML
 *                 in, YAML out tool pays;
 *   istio/linkerd the offline pipeline in process: sb_input (parse, model,
 *                 world) and sb_input_render to YAML;
 *   bin-istio/bin-linkerd
 *                 the smi-bridge binary on the same files, output to
 *                 /dev/null (process start and file I/O included).
 *
 * Every measurement runs in a child process of its own (fork), so each has
 * a fresh heap and its own peak RSS (getrusage of that child). Each is
 * repeated and the median reported, with translate/baseline ratios.
 *
 *   bench-translate [-n OBJECTS] [-r REPEATS] [-s SEED] [-b BINARY]
 *                   [-k DIR]   (keep the generated files in DIR)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sb/buf.h"
#include "sb/doc.h"
#include "sb/emit.h"
#include "sb/err.h"
#include "sb/input.h"

#ifndef SB_BENCH_BINARY
#define SB_BENCH_BINARY "smi-bridge"
#endif

/* ---- deterministic input ------------------------------------------------ */

static uint64_t rng_state;

static uint32_t rnd(void) {
  /* xorshift64*: fixed seed, same bytes on every machine */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t) ((rng_state * 2685821657736338717ull) >> 32);
}

static unsigned pick(unsigned lo, unsigned hi) {
  return lo + rnd() % (hi - lo + 1);
}

#define NAMESPACES 50

static const char *const paths[] = {
  "/api", "/v1/items/[0-9]+", "/static/.*", "/healthz$", "/cart(/.*)?$",
  "/search|/find", ".*", "/orders/.*$",
};
static const char *const methods[] = {"GET", "POST", "PUT", "DELETE",
                                      "PATCH", "\"*\""};

static void gen_app(sb_buf *src, sb_buf *ctx, unsigned k, size_t *nobj) {
  unsigned ns = k % NAMESPACES, nb = pick(2, 5), nm = pick(1, 4), i, j;
  unsigned tsv = pick(1, 4), two_ports = rnd() % 4 == 0;
  int with_matches = tsv >= 3 && rnd() % 2, any = 0;

  /* Context: the root and backend Services, two Pods of the app's SA. */
  for (i = 0; i <= nb; i++) {
    sb_buf_addf(ctx,
                "---\napiVersion: v1\nkind: Service\nmetadata:\n"
                "  name: app%u%s%.0u\n  namespace: ns%u\nspec:\n"
                "  selector:\n    app: app%u\n  ports:\n"
                "  - name: http\n    port: 80\n    targetPort: 8080\n",
                k, i ? "-v" : "", i, ns, k);
    if (two_ports)
      sb_buf_addf(ctx, "  - name: admin\n    port: 9090\n");
  }
  for (i = 0; i < 2; i++)
    sb_buf_addf(ctx,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n"
                "  name: app%u-%08x-%u\n  namespace: ns%u\n  labels:\n"
                "    app: app%u\n    pod-template-hash: \"%08x\"\n"
                "spec:\n  serviceAccountName: app%u\n  containers:\n"
                "  - name: app\n    image: example/app:%u\n    ports:\n"
                "    - containerPort: 8080\n    - containerPort: 9090\n"
                "status:\n  phase: Running\n",
                k, rnd(), i, ns, k, k * 7919u, k, k % 9);

  /* HTTPRouteGroup v1alpha4, headers as a map or a list. */
  sb_buf_addf(src,
              "---\napiVersion: specs.smi-spec.io/v1alpha4\n"
              "kind: HTTPRouteGroup\nmetadata:\n  name: app%u-routes\n"
              "  namespace: ns%u\nspec:\n  matches:\n",
              k, ns);
  for (i = 0; i < nm; i++) {
    const char *p = paths[rnd() % (sizeof(paths) / sizeof(paths[0]))];
    unsigned nmeth = pick(1, 2);
    sb_buf_addf(src, "  - name: m%u\n    pathRegex: \"%s\"\n    methods:",
                i, p);
    for (j = 0; j < nmeth; j++)
      sb_buf_addf(src, "%s%s", j ? ", " : " [",
                  methods[(i + j + k) % 6]);
    sb_buf_adds(src, "]\n");
    if (rnd() % 3 == 0)
      sb_buf_addf(src, rnd() % 2 ? "    headers:\n      x-user: u%u\n"
                                 : "    headers:\n    - X-Tier: t%u\n",
                  rnd() % 100);
  }
  (*nobj)++;

  /* TCPRoute v1alpha4. */
  sb_buf_addf(src,
              "---\napiVersion: specs.smi-spec.io/v1alpha4\nkind: TCPRoute\n"
              "metadata:\n  name: app%u-port\n  namespace: ns%u\n"
              "spec:\n  matches:\n    ports: [8080]\n",
              k, ns);
  (*nobj)++;

  /* TrafficSplit of version tsv. */
  sb_buf_addf(src,
              "---\napiVersion: split.smi-spec.io/v1alpha%u\n"
              "kind: TrafficSplit\nmetadata:\n  name: app%u-split\n"
              "  namespace: ns%u\nspec:\n  service: app%u\n",
              tsv, k, ns, k);
  if (with_matches)
    sb_buf_addf(src, "  matches:\n  - kind: HTTPRouteGroup\n"
                     "    name: app%u-routes\n", k);
  sb_buf_adds(src, "  backends:\n");
  for (i = 1; i <= nb; i++) {
    unsigned w = pick(0, 100);
    if (i == nb && !any)
      w = w ? w : 1;
    any |= w != 0;
    if (tsv == 1 && rnd() % 2)
      sb_buf_addf(src, "  - service: app%u-v%u\n    weight: %um\n", k, i,
                  w * 10);
    else
      sb_buf_addf(src, "  - service: app%u-v%u\n    weight: %u\n", k, i, w);
  }
  (*nobj)++;

  /* TrafficTarget v1alpha3 (some v1alpha2) with HTTP and TCP rules. */
  sb_buf_addf(src,
              "---\napiVersion: access.smi-spec.io/v1alpha%u\n"
              "kind: TrafficTarget\nmetadata:\n  name: app%u-access\n"
              "  namespace: ns%u\nspec:\n  destination:\n"
              "    kind: ServiceAccount\n    name: app%u\n"
              "    namespace: ns%u\n  rules:\n"
              "  - kind: HTTPRouteGroup\n    name: app%u-routes\n",
              rnd() % 4 ? 3 : 2, k, ns, k, ns, k);
  if (nm > 1 && rnd() % 2)
    sb_buf_adds(src, "    matches: [m0]\n");
  if (rnd() % 2)
    sb_buf_addf(src, "  - kind: TCPRoute\n    name: app%u-port\n", k);
  sb_buf_adds(src, "  sources:\n");
  for (i = 0, j = pick(1, 3); i < j; i++)
    sb_buf_addf(src, "  - kind: ServiceAccount\n    name: client%u\n"
                     "    namespace: ns%u\n", i, (k + i + 1) % NAMESPACES);
  (*nobj)++;
}

static int write_file(const char *path, const sb_buf *b) {
  FILE *f = fopen(path, "wb");
  int ok;

  if (!f)
    return -1;
  ok = fwrite(b->data, 1, b->len, f) == b->len;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* ---- measurements ------------------------------------------------------- */

typedef struct {
  const char *src, *ctx;   /* file names */
  const char *binary;
} bench;

static double now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len) {
  char err[256], *data = NULL;

  if (sb_doc_read_file(path, (size_t) 1 << 30, &data, len, err,
                       sizeof(err)) != 0) {
    fprintf(stderr, "bench: %s\n", err);
    exit(1);
  }
  return data;
}

struct reemit {
  sb_buf *out;
  size_t docs;
};

static int reemit_doc(void *arg, sb_doc *doc) {
  struct reemit *r = arg;
  int rc;

  if (r->docs++)
    sb_buf_adds(r->out, "---\n");
  rc = sb_emit_yaml(sb_doc_root(doc), r->out);
  sb_doc_free(doc);
  return rc;
}

/* The floor: read both files, parse them, emit every document again. */
static size_t run_baseline(const bench *b) {
  const char *files[2] = {b->ctx, b->src};
  sb_buf out;
  size_t total = 0, i;

  sb_buf_init(&out, SB_BUF_UNLIMITED);
  for (i = 0; i < 2; i++) {
    size_t len;
    char *data = slurp(files[i], &len);
    struct reemit r = {&out, 0};
    sb_diags d;

    sb_diags_init(&d);
    if (sb_doc_parse(files[i], data, len, NULL, reemit_doc, &r, &d) != 0) {
      fprintf(stderr, "bench: baseline cannot parse %s: %d: %s\n", files[i],
              d.n ? d.v[0].line : 0, d.n ? d.v[0].msg : "emit failed");
      exit(1);
    }
    sb_diags_free(&d);
    free(data);
  }
  total = out.len;
  sb_buf_free(&out);
  return total;
}

/* Also says how long reading (parse, model, world) took, in *read_s. */
static size_t run_translate(const bench *b, sb_mesh mesh, double *read_s) {
  sb_translate_opts o;
  double t0 = now();
  sb_input *in = sb_input_new(NULL, NULL);
  sb_diags d;
  sb_buf out;
  size_t total;

  sb_diags_init(&d);
  sb_buf_init(&out, SB_BUF_UNLIMITED);
  if (!in || sb_input_add_path(in, b->ctx, SB_INPUT_CONTEXT, &d) ||
      sb_input_add_path(in, b->src, SB_INPUT_SOURCE, &d)) {
    fprintf(stderr, "bench: cannot read the input\n");
    exit(1);
  }
  *read_s = now() - t0;
  sb_translate_opts_default(&o);
  o.mesh = mesh;
  if (sb_input_render(in, &o, SB_OUTPUT_YAML, &out, &d) != 0) {
    fprintf(stderr, "bench: render failed\n");
    exit(1);
  }
  if (sb_diags_count(&d, SB_DIAG_ERROR)) {
    sb_buf line;
    sb_buf_init(&line, 4096);
    sb_diag_format(&d.v[0], &line);
    fprintf(stderr, "bench: the generated input has errors, first: %s\n",
            sb_buf_cstr(&line));
    exit(1);
  }
  total = out.len;
  sb_buf_free(&out);
  sb_diags_free(&d);
  sb_input_free(in);
  return total;
}

static void run_binary(const bench *b, const char *mesh) {
  int fd = open("/dev/null", O_WRONLY);
  char *argv[] = {(char *) b->binary, "translate", "-f", (char *) b->src,
                  "--context-file", (char *) b->ctx, "--mesh",
                  (char *) mesh, NULL};

  /* Diagnostics too: the generated input draws warnings (dropped
   * matches, probes), and a terminal would make the run slower. */
  if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
    perror("bench: /dev/null");
    _exit(1);
  }
  execv(b->binary, argv);
  fprintf(stderr, "bench: cannot run %s: %s\n", b->binary, strerror(errno));
  _exit(127);
}

enum { BASELINE, ISTIO, LINKERD, BIN_ISTIO, BIN_LINKERD, NPHASES };
static const char *const phase_names[NPHASES] = {
  "baseline", "istio", "linkerd", "bin-istio", "bin-linkerd"};

typedef struct {
  double secs;
  double read_secs;   /* in-process translate: reading the input */
  long maxrss_kb;
  size_t out_bytes;
} sample;

/* Runs one phase in a child; its wall time and peak RSS come back through
 * a pipe (in-process phases) or from wait4 (the binary). */
static int measure(const bench *b, int phase, sample *s) {
  int pfd[2], status;
  struct rusage ru;
  double t0;
  pid_t pid;

  if (pipe(pfd) != 0)
    return -1;
  t0 = now();
  pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    sample c = {0, 0, 0, 0};
    double t;
    close(pfd[0]);
    if (phase == BIN_ISTIO || phase == BIN_LINKERD)
      run_binary(b, phase == BIN_ISTIO ? "istio" : "linkerd");
    t = now();
    if (phase == BASELINE)
      c.out_bytes = run_baseline(b);
    else
      c.out_bytes = run_translate(b, phase == ISTIO ? SB_MESH_ISTIO
                                                    : SB_MESH_LINKERD,
                                  &c.read_secs);
    c.secs = now() - t;
    getrusage(RUSAGE_SELF, &ru);
    c.maxrss_kb = ru.ru_maxrss;
    if (write(pfd[1], &c, sizeof(c)) != (ssize_t) sizeof(c))
      _exit(1);
    _exit(0);
  }
  close(pfd[1]);
  memset(s, 0, sizeof(*s));
  if (phase != BIN_ISTIO && phase != BIN_LINKERD &&
      read(pfd[0], s, sizeof(*s)) != (ssize_t) sizeof(*s)) {
    close(pfd[0]);
    waitpid(pid, NULL, 0);
    return -1;
  }
  close(pfd[0]);
  if (wait4(pid, &status, 0, &ru) < 0)
    return -1;
  if (phase == BIN_ISTIO || phase == BIN_LINKERD) {
    s->secs = now() - t0;
    s->maxrss_kb = ru.ru_maxrss;
  }
  /* exit 1 would mean invalid input: the generator only writes valid
   * objects, so anything but 0 is a failure. */
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double median(double *v, unsigned long n) {
  qsort(v, n, sizeof(double), cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void) {
  fprintf(stderr, "usage: bench-translate [-n OBJECTS] [-r REPEATS] "
                  "[-s SEED] [-b SMI_BRIDGE] [-k DIR]\n");
  exit(2);
}

int main(int argc, char **argv) {
  unsigned long nobjects = 10000, repeats = 5, seed = 20240601;
  const char *keep = NULL;
  char dir[4096], src[4200], ctx[4200];
  double t[NPHASES][64], rd[NPHASES][64], med[NPHASES];
  long rss[NPHASES] = {0};
  size_t outb[NPHASES] = {0}, nobj = 0;
  sb_buf sbuf, cbuf;
  bench b;
  unsigned k;
  int opt, p;
  unsigned long r;

  b.binary = SB_BENCH_BINARY;
  while ((opt = getopt(argc, argv, "n:r:s:b:k:h")) != -1) {
    switch (opt) {
    case 'n': nobjects = strtoul(optarg, NULL, 10); break;
    case 'r': repeats = strtoul(optarg, NULL, 10); break;
    case 's': seed = strtoul(optarg, NULL, 10); break;
    case 'b': b.binary = optarg; break;
    case 'k': keep = optarg; break;
    default: usage();
    }
  }
  if (nobjects < 4 || repeats < 1 || repeats > 64)
    usage();

  if (keep) {
    snprintf(dir, sizeof(dir), "%s", keep);
    mkdir(dir, 0755);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/bench-translate-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
      perror("bench: mkdtemp");
      return 1;
    }
  }
  snprintf(src, sizeof(src), "%s/smi.yaml", dir);
  snprintf(ctx, sizeof(ctx), "%s/context.yaml", dir);
  b.src = src;
  b.ctx = ctx;

  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
  sb_buf_init(&sbuf, SB_BUF_UNLIMITED);
  sb_buf_init(&cbuf, SB_BUF_UNLIMITED);
  for (k = 0; nobj < nobjects; k++)
    gen_app(&sbuf, &cbuf, k, &nobj);
  if (write_file(src, &sbuf) || write_file(ctx, &cbuf)) {
    perror("bench: writing the input");
    return 1;
  }
  printf("input: %zu SMI objects (%u apps in %d namespaces), %zu bytes; "
         "context %zu bytes; seed %lu; %lu repeats, median\n",
         nobj, k, NAMESPACES, sbuf.len, cbuf.len, seed, repeats);
  sb_buf_free(&sbuf);
  sb_buf_free(&cbuf);

  fflush(stdout);
  /* Interleave the phases so that a noisy neighbour hits all alike. */
  for (r = 0; r < repeats; r++)
    for (p = 0; p < NPHASES; p++) {
      sample s;
      if (measure(&b, p, &s) != 0) {
        fprintf(stderr, "bench: %s failed\n", phase_names[p]);
        return 1;
      }
      t[p][r] = s.secs;
      rd[p][r] = s.read_secs;
      if (s.maxrss_kb > rss[p])
        rss[p] = s.maxrss_kb;
      if (s.out_bytes)
        outb[p] = s.out_bytes;
    }

  printf("%-12s %10s %9s %12s %14s %8s\n", "phase", "median s", "ratio",
         "peak RSS MB", "output bytes", "read s");
  for (p = 0; p < NPHASES; p++) {
    med[p] = median(t[p], repeats);
    printf("%-12s %10.3f %8.2fx %12.1f", phase_names[p], med[p],
           med[p] / med[BASELINE], (double) rss[p] / 1024.0);
    if (outb[p])
      printf(" %14zu", outb[p]);
    else
      printf(" %14s", "-");
    if (p == ISTIO || p == LINKERD)
      printf(" %8.3f\n", median(rd[p], repeats));
    else
      printf(" %8s\n", "-");
  }
  if (!keep) {
    unlink(src);
    unlink(ctx);
    rmdir(dir);
  } else {
    printf("input kept in %s\n", dir);
  }
  return 0;
}
