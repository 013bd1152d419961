/* options.c -- table-driven command line, environment and --help.
 * See options.h for the rules.
 */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sb/err.h"

#define FIELD(cfg, o, type) ((type *) ((char *) (cfg) + (o)->offset))

static int is_choice(const sb_opt *o, const char *v) {
  const char *const *c;

  if (!o->choices)
    return 1;
  for (c = o->choices; *c; c++)
    if (strcmp(*c, v) == 0)
      return 1;
  return 0;
}

static void choices_text(const sb_opt *o, sb_buf *b) {
  const char *const *c;

  for (c = o->choices; *c; c++)
    sb_buf_addf(b, "%s%s", c == o->choices ? "" : "|", *c);
}

static int list_push(sb_opt_list *l, const char *v) {
  const char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

  if (!nv)
    return SB_ENOMEM;
  nv[l->n++] = v;
  l->v = nv;
  return 0;
}

/* Stores one value; `from` names its origin for error messages. */
static int set_value(const sb_opt *o, void *cfg, const char *v,
                     const char *from, sb_buf *err) {
  char *end;
  long l;
  double d;

  if (o->type != SB_OPT_BOOL && o->type != SB_OPT_LIST && !is_choice(o, v)) {
    sb_buf_addf(err, "%s: invalid value \"%s\" (one of: ", from, v);
    choices_text(o, err);
    sb_buf_adds(err, ")");
    return SB_EINVAL;
  }
  switch (o->type) {
  case SB_OPT_STRING:
    *FIELD(cfg, o, const char *) = v;
    return 0;
  case SB_OPT_INT:
  case SB_OPT_COUNT:
    errno = 0;
    l = strtol(v, &end, 10);
    if (errno || end == v || *end || l < INT_MIN || l > INT_MAX) {
      sb_buf_addf(err, "%s: \"%s\" is not an integer", from, v);
      return SB_EINVAL;
    }
    *FIELD(cfg, o, int) = (int) l;
    return 0;
  case SB_OPT_DOUBLE:
    errno = 0;
    d = strtod(v, &end);
    if (errno || end == v || *end) {
      sb_buf_addf(err, "%s: \"%s\" is not a number", from, v);
      return SB_EINVAL;
    }
    *FIELD(cfg, o, double) = d;
    return 0;
  case SB_OPT_BOOL:
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
      *FIELD(cfg, o, int) = 1;
    } else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
      *FIELD(cfg, o, int) = 0;
    } else {
      sb_buf_addf(err, "%s: \"%s\" is not true or false", from, v);
      return SB_EINVAL;
    }
    return 0;
  case SB_OPT_LIST: {
    sb_opt_list *lst = FIELD(cfg, o, sb_opt_list);
    if (!is_choice(o, v)) {
      sb_buf_addf(err, "%s: invalid value \"%s\" (one of: ", from, v);
      choices_text(o, err);
      sb_buf_adds(err, ")");
      return SB_EINVAL;
    }
    return list_push(lst, v);
  }
  }
  return SB_EINVAL;
}

static const sb_opt *find_long(const sb_opt *t, size_t n, const char *name,
                               size_t len) {
  size_t i;

  for (i = 0; i < n; i++)
    if (strlen(t[i].name) == len && strncmp(t[i].name, name, len) == 0)
      return &t[i];
  return NULL;
}

static const sb_opt *find_short(const sb_opt *t, size_t n, char c) {
  size_t i;

  for (i = 0; i < n; i++)
    if (t[i].short_name == c)
      return &t[i];
  return NULL;
}

static int apply_env(const sb_opt *o, void *cfg, sb_buf *err) {
  const char *v = o->env ? getenv(o->env) : NULL;
  char from[128];

  if (!v || !*v)
    return 0;
  snprintf(from, sizeof(from), "environment %s", o->env);
  if (o->type != SB_OPT_LIST)
    return set_value(o, cfg, v, from, err);
  /* A list from the environment is comma separated; the pieces live in a
   * copy owned by the list and freed by sb_opts_free. */
  {
    sb_opt_list *l = FIELD(cfg, o, sb_opt_list);
    char *p, *save = NULL;
    int rc;

    free(l->store);
    l->store = strdup(v);
    if (!l->store)
      return SB_ENOMEM;
    for (p = strtok_r(l->store, ",", &save); p;
         p = strtok_r(NULL, ",", &save)) {
      rc = set_value(o, cfg, p, from, err);
      if (rc)
        return rc;
    }
    return 0;
  }
}

int sb_opts_parse(const sb_opt *t, size_t n, void *cfg, int argc,
                  char **argv, sb_opt_list *pos, int *help, sb_buf *err) {
  size_t i;
  int a, rc, only_pos = 0;
  char from[160];
  unsigned char seen[128];

  if (n > sizeof(seen))
    return SB_EINVAL;
  memset(seen, 0, sizeof(seen));
  *help = 0;
  pos->v = NULL;
  pos->n = 0;
  for (i = 0; i < n; i++) {
    if (t[i].def && t[i].type != SB_OPT_LIST) {
      rc = set_value(&t[i], cfg, t[i].def, "default", err);
      if (rc)
        return rc;
    }
    rc = apply_env(&t[i], cfg, err);
    if (rc)
      return rc;
  }
  for (a = 1; a < argc; a++) {
    const char *arg = argv[a], *val = NULL, *name;
    const sb_opt *o = NULL;
    size_t len;

    if (only_pos || arg[0] != '-' || arg[1] == '\0') {
      rc = list_push(pos, arg);
      if (rc)
        return rc;
      continue;
    }
    if (!strcmp(arg, "--")) {
      only_pos = 1;
      continue;
    }
    if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      *help = 1;
      continue;
    }
    if (arg[1] == '-') {
      name = arg + 2;
      len = strcspn(name, "=");
      if (name[len] == '=')
        val = name + len + 1;
      o = find_long(t, n, name, len);
      snprintf(from, sizeof(from), "--%.*s", (int) len, name);
    } else {
      o = find_short(t, n, arg[1]);
      if (arg[2])
        val = arg[2] == '=' ? arg + 3 : arg + 2;
      snprintf(from, sizeof(from), "-%c", arg[1]);
    }
    if (!o) {
      sb_buf_addf(err, "unknown flag %s (see --help)", from);
      return SB_EINVAL;
    }
    /* A list given on the command line replaces the environment's. */
    if (o->type == SB_OPT_LIST && !seen[o - t])
      FIELD(cfg, o, sb_opt_list)->n = 0;
    seen[o - t] = 1;
    if (!val && o->type == SB_OPT_BOOL) {
      *FIELD(cfg, o, int) = 1;
      continue;
    }
    if (!val) {
      if (a + 1 >= argc) {
        sb_buf_addf(err, "%s needs a value", from);
        return SB_EINVAL;
      }
      val = argv[++a];
    }
    rc = set_value(o, cfg, val, from, err);
    if (rc)
      return rc;
  }
  return 0;
}

void sb_opts_free(const sb_opt *t, size_t n, void *cfg) {
  size_t i;

  for (i = 0; i < n; i++)
    if (t[i].type == SB_OPT_LIST) {
      sb_opt_list *l = FIELD(cfg, &t[i], sb_opt_list);
      free(l->v);
      free(l->store);
      l->v = NULL;
      l->n = 0;
      l->store = NULL;
    }
}

void sb_opts_usage(const sb_opt *t, size_t n, const char *usage,
                   const char *about, FILE *out) {
  size_t i;

  fprintf(out, "Usage: %s\n\n%s\n\nOptions:\n", usage, about);
  for (i = 0; i < n; i++) {
    const sb_opt *o = &t[i];
    sb_buf left, right;

    sb_buf_init(&left, 4096);
    sb_buf_init(&right, 4096);
    if (o->short_name)
      sb_buf_addf(&left, "  -%c, --%s", o->short_name, o->name);
    else
      sb_buf_addf(&left, "      --%s", o->name);
    if (o->type != SB_OPT_BOOL)
      sb_buf_addf(&left, " %s", o->metavar ? o->metavar : "VALUE");
    sb_buf_adds(&right, o->help);
    if (o->choices) {
      sb_buf_adds(&right, " One of: ");
      choices_text(o, &right);
      sb_buf_adds(&right, ".");
    }
    if (o->def && *o->def)
      sb_buf_addf(&right, " Default: %s.", o->def);
    if (o->env)
      sb_buf_addf(&right, " Env: %s.", o->env);
    if (left.len < 30)
      fprintf(out, "%-30s%s\n", sb_buf_cstr(&left), sb_buf_cstr(&right));
    else
      fprintf(out, "%s\n%-30s%s\n", sb_buf_cstr(&left), "",
              sb_buf_cstr(&right));
    sb_buf_free(&left);
    sb_buf_free(&right);
  }
  fprintf(out, "  -h, --help                  Show this help.\n");
}
