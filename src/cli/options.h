/* options.h -- one table per command drives flag parsing, environment
 * variables, defaults, validation and --help (redis' config table idea).
 *
 * A table row names a field of the command's config struct by offset, so a
 * new option is one row: it shows up in --help, can come from the
 * environment, and is checked against its choices without further code.
 * Precedence, lowest first: default, environment, command line.
 */
#ifndef SB_CLI_OPTIONS_H
#define SB_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "sb/buf.h"

typedef enum {
  SB_OPT_STRING,   /* const char * (points into argv/env/def) */
  SB_OPT_INT,      /* int, decimal */
  SB_OPT_DOUBLE,   /* double */
  SB_OPT_BOOL,     /* int 0/1; "--x", "--x=true|false" */
  SB_OPT_LIST,     /* sb_opt_list; repeatable, also "a,b" from env */
  SB_OPT_COUNT     /* int; "-v 3", "-v=3", "--v=3" (klog style level) */
} sb_opt_type;

typedef struct sb_opt_list {
  const char **v;  /* malloc'd array; strings point into argv or store */
  size_t n;
  char *store;     /* malloc'd copy of a comma-separated env value */
} sb_opt_list;

typedef struct sb_opt {
  const char *name;          /* long name, without "--" */
  char short_name;           /* 0 when none */
  sb_opt_type type;
  size_t offset;             /* offsetof(config struct, field) */
  const char *def;           /* default as text; NULL = none */
  const char *env;           /* environment variable; NULL = none */
  const char *metavar;       /* "FILE", "N"... shown in --help */
  const char *const *choices;/* NULL-terminated allowed values or NULL */
  const char *help;
} sb_opt;

/* Applies defaults and environment, then parses argv[1..argc). Positional
 * arguments are collected into *pos (caller frees pos->v). "-h"/"--help"
 * sets *help. On a usage error returns SB_EINVAL with one line in err. */
int sb_opts_parse(const sb_opt *t, size_t n, void *cfg, int argc,
                  char **argv, sb_opt_list *pos, int *help, sb_buf *err);
/* Frees the arrays of every SB_OPT_LIST field of cfg. */
void sb_opts_free(const sb_opt *t, size_t n, void *cfg);
void sb_opts_usage(const sb_opt *t, size_t n, const char *usage,
                   const char *about, FILE *out);

#endif
