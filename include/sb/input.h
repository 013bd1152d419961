/* input.h -- the offline pipeline: files in, mesh objects out.
 *
 * `smi-bridge translate`, the fuzz target and the benchmarks all run this
 * same path: bytes -> documents (sb_doc) -> model objects (sb_model) -> a
 * world -> sb_translate for every source key -> YAML or JSON (sb_emit).
 *
 * Objects come in two roles. Sources (-f) are translated and printed.
 * Context (--context-file) only informs translations: the Services, Pods and
 * ServiceAccounts a translation needs, or SMI route groups that sources
 * reference. Documents of other kinds are ignored; `kind: List` and every
 * `*List` are flattened. Objects without a namespace get the default
 * namespace, as kubectl does.
 *
 * Problems never stop the run: each is a diagnostic, the offending
 * document or object is skipped, and everything else is still printed.
 */
#ifndef SB_INPUT_H
#define SB_INPUT_H

#include <stddef.h>

#include "sb/buf.h"
#include "sb/diag.h"
#include "sb/doc.h"
#include "sb/translate.h"
#include "sb/world.h"

typedef enum { SB_INPUT_SOURCE = 0, SB_INPUT_CONTEXT = 1 } sb_input_role;
typedef enum { SB_OUTPUT_YAML = 0, SB_OUTPUT_JSON = 1 } sb_output_format;

typedef struct sb_input sb_input;

/* limits NULL = sb_doc_limits_default. default_ns is copied. */
sb_input *sb_input_new(const sb_doc_limits *limits, const char *default_ns);
void sb_input_free(sb_input *in);

/* Reads every object in data (file names it in diagnostics). Returns 0, or
 * SB_ENOMEM; everything else is a diagnostic. */
int sb_input_add_buffer(sb_input *in, const char *file, const char *data,
                        size_t len, sb_input_role role, sb_diags *diags);
/* A file, "-" (stdin), or a directory: every *.yaml, *.yml and *.json
 * below it, recursively, in name order. */
int sb_input_add_path(sb_input *in, const char *path, sb_input_role role,
                      sb_diags *diags);

const sb_world *sb_input_world(const sb_input *in);
/* Number of source objects read so far. */
size_t sb_input_sources(const sb_input *in);

/* Translates every source key (input order) and appends the output to out:
 * YAML documents separated by "---", or one JSON v1 List. Diagnostics of
 * the translations are appended to diags. Returns 0 or SB_ENOMEM. */
int sb_input_render(const sb_input *in, const sb_translate_opts *opts,
                    sb_output_format fmt, sb_buf *out, sb_diags *diags);

#endif
