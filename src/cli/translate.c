/* translate.c -- `smi-bridge translate`: the offline dry run.
 *
 * Reads SMI objects from files, directories or stdin and prints the mesh
 * objects the controller would write for them. All the work is in
 * sb/input.h (the same translation the controller runs); this file is the
 * command line around it and the reporting of diagnostics.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "options.h"
#include "sb/err.h"
#include "sb/input.h"

typedef struct {
  sb_opt_list files;
  sb_opt_list context;
  const char *mesh;
  const char *routes;
  const char *output;
  const char *ns;
  const char *cluster_domain;
  const char *trust_domain;
  const char *istio_api;
  int service_profile;
} translate_cfg;

static const char *const mesh_choices[] = {"istio", "linkerd", NULL};
static const char *const routes_choices[] = {"native", "gateway-api", NULL};
static const char *const output_choices[] = {"yaml", "json", NULL};
static const char *const istio_api_choices[] = {"v1", "v1beta1", NULL};

#define OFF(f) offsetof(translate_cfg, f)
static const sb_opt translate_opts[] = {
  {"filename", 'f', SB_OPT_LIST, OFF(files), NULL, NULL, "FILE",
   NULL, "SMI objects to translate: a file, a directory (every *.yaml, "
   "*.yml and *.json below it) or - for stdin. Repeatable."},
  {"context-file", 0, SB_OPT_LIST, OFF(context), NULL, NULL, "FILE",
   NULL, "Cluster objects the translation may need (Services, Pods, "
   "ServiceAccounts, referenced route groups); read, never printed. "
   "Repeatable."},
  {"mesh", 0, SB_OPT_STRING, OFF(mesh), "istio", NULL, "MESH",
   mesh_choices, "Mesh to generate objects for."},
  {"routes", 0, SB_OPT_STRING, OFF(routes), "native", NULL, "MODE",
   routes_choices, "Route objects for TrafficSplits: the mesh's own, or "
   "Gateway API HTTPRoutes with a Service parent (GAMMA)."},
  {"output", 'o', SB_OPT_STRING, OFF(output), "yaml", NULL, "FORMAT",
   output_choices, "Output format: YAML documents separated by ---, or "
   "one JSON v1 List."},
  {"namespace", 'n', SB_OPT_STRING, OFF(ns), "default", NULL, "NS",
   NULL, "Namespace for objects that do not name one."},
  {"cluster-domain", 0, SB_OPT_STRING, OFF(cluster_domain), "cluster.local",
   NULL, "DOMAIN", NULL, "Cluster DNS domain used in service FQDNs."},
  {"trust-domain", 0, SB_OPT_STRING, OFF(trust_domain), "cluster.local",
   NULL, "DOMAIN", NULL, "Mesh trust domain used in Istio principals."},
  {"istio-api", 0, SB_OPT_STRING, OFF(istio_api), "v1", NULL, "VERSION",
   istio_api_choices, "Istio API version to write; v1beta1 for Istio "
   "older than 1.22 (weights become percentages summing to 100)."},
  {"linkerd-service-profile", 0, SB_OPT_BOOL, OFF(service_profile), "false",
   NULL, NULL, NULL, "Linkerd legacy mode: TrafficSplits become "
   "ServiceProfile dstOverrides instead of HTTPRoutes."},
};
#undef OFF

static const char usage_line[] =
    "smi-bridge translate -f FILE|DIR|- [-f ...] [options]";
static const char about[] =
    "Prints the mesh objects smi-bridge would write for the SMI objects in "
    "the input,\nwithout a cluster. Every problem is reported on stderr as "
    "file:line: Kind ns/name: field: reason;\nvalid objects are printed "
    "anyway. Exit status: 0 all input valid, 1 some input\ninvalid, "
    "2 usage error.";

static int write_all(int fd, const char *p, size_t n);

/* Diagnostics go out in blocks of about 64 KiB: stderr is unbuffered, and
 * a write(2) per line made thousands of warnings a measurable part of a
 * run. */
static void print_diags(const sb_diags *d) {
  sb_buf line, all;
  size_t i;

  sb_buf_init(&line, 64 * 1024);
  sb_buf_init(&all, SB_BUF_UNLIMITED);
  for (i = 0; i < d->n; i++) {
    sb_buf_reset(&line);
    if (sb_diag_format(&d->v[i], &line) != 0 ||
        sb_buf_addc(&line, '\n') != 0)
      continue;
    if (sb_buf_add(&all, line.data, line.len) != 0) {
      /* Out of memory: this line on its own, then carry on. */
      (void) write_all(2, all.data, all.len);
      sb_buf_reset(&all);
      (void) write_all(2, line.data, line.len);
      continue;
    }
    if (all.len >= 64 * 1024) {
      (void) write_all(2, all.data, all.len);
      sb_buf_reset(&all);
    }
  }
  if (all.len)
    (void) write_all(2, all.data, all.len);
  sb_buf_free(&all);
  sb_buf_free(&line);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -1;
    p += w;
    n -= (size_t) w;
  }
  return 0;
}

int sb_cli_translate(int argc, char **argv) {
  translate_cfg cfg;
  sb_translate_opts topts;
  sb_opt_list pos = {NULL, 0, NULL};
  sb_input *in = NULL;
  sb_diags diags;
  sb_buf err, out;
  int help, rc, status = 0;
  size_t i;

  memset(&cfg, 0, sizeof(cfg));
  sb_buf_init(&err, 4096);
  sb_buf_init(&out, SB_BUF_UNLIMITED);
  sb_diags_init(&diags);
  rc = sb_opts_parse(translate_opts, SB_ARRAY_SIZE(translate_opts), &cfg,
                     argc, argv, &pos, &help, &err);
  if (help) {
    sb_opts_usage(translate_opts, SB_ARRAY_SIZE(translate_opts), usage_line,
                  about, stdout);
    goto done;
  }
  if (!rc && pos.n) {
    sb_buf_addf(&err, "unexpected argument \"%s\" (input files go after -f)",
                pos.v[0]);
    rc = SB_EINVAL;
  }
  if (!rc && cfg.files.n == 0) {
    sb_buf_adds(&err, "no input: give at least one -f FILE|DIR|-");
    rc = SB_EINVAL;
  }
  if (rc) {
    fprintf(stderr, "smi-bridge translate: %s\n", sb_buf_cstr(&err));
    status = 2;
    goto done;
  }

  sb_translate_opts_default(&topts);
  topts.mesh = strcmp(cfg.mesh, "linkerd") == 0 ? SB_MESH_LINKERD
                                                : SB_MESH_ISTIO;
  topts.routes = strcmp(cfg.routes, "gateway-api") == 0
                     ? SB_ROUTES_GATEWAY_API : SB_ROUTES_NATIVE;
  topts.istio_api = strcmp(cfg.istio_api, "v1beta1") == 0
                        ? SB_ISTIO_API_V1BETA1 : SB_ISTIO_API_V1;
  topts.cluster_domain = cfg.cluster_domain;
  topts.trust_domain = cfg.trust_domain;
  topts.linkerd_service_profile = cfg.service_profile;

  in = sb_input_new(NULL, cfg.ns);
  rc = in ? 0 : SB_ENOMEM;
  for (i = 0; !rc && i < cfg.context.n; i++)
    rc = sb_input_add_path(in, cfg.context.v[i], SB_INPUT_CONTEXT, &diags);
  for (i = 0; !rc && i < cfg.files.n; i++)
    rc = sb_input_add_path(in, cfg.files.v[i], SB_INPUT_SOURCE, &diags);
  if (!rc)
    rc = sb_input_render(in, &topts,
                         strcmp(cfg.output, "json") == 0 ? SB_OUTPUT_JSON
                                                          : SB_OUTPUT_YAML,
                         &out, &diags);
  if (rc) {
    fprintf(stderr, "smi-bridge translate: %s\n", sb_strerror(rc));
    status = 1;
    goto done;
  }
  if (write_all(1, out.data ? out.data : "", out.len) != 0) {
    fprintf(stderr, "smi-bridge translate: cannot write output\n");
    status = 1;
  }
  print_diags(&diags);
  if (sb_diags_count(&diags, SB_DIAG_ERROR))
    status = 1;
  if (!sb_input_sources(in) && !status)
    fprintf(stderr, "smi-bridge translate: warning: no TrafficSplit or "
            "TrafficTarget in the input\n");

done:
  sb_input_free(in);
  sb_diags_free(&diags);
  sb_buf_free(&err);
  sb_buf_free(&out);
  free(pos.v);
  sb_opts_free(translate_opts, SB_ARRAY_SIZE(translate_opts), &cfg);
  return status;
}
