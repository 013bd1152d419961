/* input.c -- files to world, world to output. See sb/input.h.
 *
 * Sources are remembered in input order (that is the output order), with
 * the keys they imply computed once all input is read, because a
 * TrafficTarget's ServiceAccount key may be implied by several sources and
 * must be printed once, right after the first of them.
 */
#include "sb/input.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sb/arena.h"
#include "sb/emit.h"
#include "sb/err.h"
#include "sb/hmap.h"
#include "sb/model.h"

#define MAX_DIR_DEPTH 32

struct sb_input {
  sb_doc_limits limits;
  char *default_ns;
  sb_world *world;
  /* Source objects in input order: kind/ns/name identities. The strings
   * are copies, since the world may free an object that we skip. */
  struct src {
    sb_kind kind;
    char *ns;
    char *name;
  } *srcs;
  size_t nsrcs, srcs_cap;
};

/* Per-buffer state handed to the document callback. */
struct load {
  sb_input *in;
  sb_input_role role;
  sb_diags *diags;
  int oom;
};

sb_input *sb_input_new(const sb_doc_limits *limits, const char *default_ns) {
  sb_input *in = calloc(1, sizeof(*in));

  if (!in)
    return NULL;
  if (limits)
    in->limits = *limits;
  else
    sb_doc_limits_default(&in->limits);
  in->default_ns = strdup(default_ns ? default_ns : "default");
  in->world = sb_world_new();
  if (!in->default_ns || !in->world) {
    sb_input_free(in);
    return NULL;
  }
  return in;
}

void sb_input_free(sb_input *in) {
  size_t i;

  if (!in)
    return;
  for (i = 0; i < in->nsrcs; i++) {
    free(in->srcs[i].ns);
    free(in->srcs[i].name);
  }
  free(in->srcs);
  sb_world_free(in->world);
  free(in->default_ns);
  free(in);
}

const sb_world *sb_input_world(const sb_input *in) {
  return in->world;
}

size_t sb_input_sources(const sb_input *in) {
  return in->nsrcs;
}

static int remember_source(sb_input *in, const sb_obj *obj) {
  struct src *s;

  if (in->nsrcs == in->srcs_cap) {
    size_t cap = in->srcs_cap ? in->srcs_cap * 2 : 16;
    s = realloc(in->srcs, cap * sizeof(*s));
    if (!s)
      return SB_ENOMEM;
    in->srcs = s;
    in->srcs_cap = cap;
  }
  s = &in->srcs[in->nsrcs];
  s->kind = obj->kind;
  s->ns = strdup(obj->ns);
  s->name = strdup(obj->name);
  if (!s->ns || !s->name) {
    free(s->ns);
    free(s->name);
    return SB_ENOMEM;
  }
  in->nsrcs++;
  return 0;
}

/* Gives an object without a namespace the default one, as kubectl does. */
static int default_namespace(cJSON *item, const char *ns) {
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
  cJSON *cur;

  if (!cJSON_IsObject(meta))
    return 0;  /* the model reports the missing metadata */
  cur = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
  if (cJSON_IsString(cur) && cur->valuestring[0])
    return 0;
  if (cur)
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "namespace");
  return cJSON_AddStringToObject(meta, "namespace", ns) ? 0 : SB_ENOMEM;
}

static int add_item(struct load *ld, cJSON *item, const sb_doc *doc) {
  sb_input *in = ld->in;
  sb_obj *obj = NULL;
  const sb_obj *prev;
  int rc;

  if (!cJSON_IsObject(item))
    return 0;
  /* Kinds we do not read are skipped, except SMI kinds under a wrong or
   * misspelt apiVersion: sb_model_parse reports those (a typo in a group
   * must not make an object vanish silently). */
  if (sb_model_detect(item, NULL) == SB_KIND_UNKNOWN) {
    rc = sb_model_parse(item, doc, &obj, ld->diags);
    sb_obj_free(obj);
    return rc == SB_ENOMEM ? rc : 0;
  }
  rc = default_namespace(item, in->default_ns);
  if (rc)
    return rc;
  rc = sb_model_parse(item, doc, &obj, ld->diags);
  if (rc == SB_ENOTSMI || rc == SB_EINVAL)
    return 0;
  if (rc)
    return rc;
  prev = sb_world_get(in->world, obj->kind, obj->ns, obj->name);
  if (prev) {
    sb_diag_loc loc = sb_obj_loc(obj);
    rc = sb_diags_add(ld->diags, SB_DIAG_ERROR, SB_REASON_INVALID, &loc,
                      NULL, "duplicate %s %s/%s (first defined at %s:%d); "
                      "this one is ignored", sb_kind_name(obj->kind),
                      obj->ns, obj->name,
                      prev->meta->file ? prev->meta->file : "?",
                      prev->meta->line);
    sb_obj_free(obj);
    return rc;
  }
  /* A TrafficSplit or TrafficTarget from a context file informs other
   * translations (conflicts, shared Servers) but is not printed. */
  if (ld->role == SB_INPUT_SOURCE &&
      (obj->kind == SB_KIND_TRAFFIC_SPLIT ||
       obj->kind == SB_KIND_TRAFFIC_TARGET)) {
    rc = remember_source(in, obj);
    if (rc) {
      sb_obj_free(obj);
      return rc;
    }
  }
  rc = sb_world_put(in->world, obj, NULL);
  if (rc)
    sb_obj_free(obj);
  return rc;
}

static int is_list(const cJSON *root) {
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
  size_t n;

  if (!cJSON_IsString(kind) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
                                   root, "items")))
    return 0;
  n = strlen(kind->valuestring);
  return n >= 4 && strcmp(kind->valuestring + n - 4, "List") == 0;
}

static int on_doc(void *arg, sb_doc *doc) {
  struct load *ld = arg;
  cJSON *root = sb_doc_take_root(doc), *item;
  int rc = 0;

  if (root && is_list(root)) {
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "items")) {
      rc = add_item(ld, item, doc);
      if (rc)
        break;
    }
  } else if (root) {
    rc = add_item(ld, root, doc);
  }
  cJSON_Delete(root);
  sb_doc_free(doc);
  if (rc == SB_ENOMEM)
    ld->oom = 1;
  return rc;
}

int sb_input_add_buffer(sb_input *in, const char *file, const char *data,
                        size_t len, sb_input_role role, sb_diags *diags) {
  struct load ld = {in, role, diags, 0};
  int rc;

  rc = sb_doc_parse(file, data, len, &in->limits, on_doc, &ld, diags);
  if (ld.oom || rc == SB_ENOMEM)
    return SB_ENOMEM;
  return 0;
}

static int add_file(sb_input *in, const char *path, sb_input_role role,
                    sb_diags *diags) {
  char err[512], *data = NULL;
  size_t len = 0;
  int rc;

  rc = sb_doc_read_file(path, in->limits.max_input_bytes, &data, &len, err,
                        sizeof(err));
  if (rc) {
    sb_diag_loc loc = {path, 0, 0, NULL, NULL, NULL};
    free(data);
    if (rc == SB_ENOMEM)
      return rc;
    return sb_diags_add(diags, SB_DIAG_ERROR, SB_REASON_SYNTAX, &loc, NULL,
                        "%s", err);
  }
  rc = sb_input_add_buffer(in, path, data, len, role, diags);
  free(data);
  return rc;
}

static int wanted_file(const char *name) {
  size_t n = strlen(name);

  return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
         (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
         (n > 5 && strcmp(name + n - 5, ".json") == 0);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *) a, *(char *const *) b);
}

static int add_dir(sb_input *in, const char *dir, sb_input_role role,
                   sb_diags *diags, int depth) {
  DIR *d;
  struct dirent *e;
  char **names = NULL;
  size_t n = 0, cap = 0, i;
  int rc = 0;

  if (depth > MAX_DIR_DEPTH) {
    sb_diag_loc loc = {dir, 0, 0, NULL, NULL, NULL};
    return sb_diags_add(diags, SB_DIAG_ERROR, SB_REASON_SYNTAX, &loc, NULL,
                        "directories nest deeper than %d levels; not read",
                        MAX_DIR_DEPTH);
  }
  d = opendir(dir);
  if (!d) {
    sb_diag_loc loc = {dir, 0, 0, NULL, NULL, NULL};
    return sb_diags_add(diags, SB_DIAG_ERROR, SB_REASON_SYNTAX, &loc, NULL,
                        "cannot read directory: %s", strerror(errno));
  }
  while ((e = readdir(d))) {
    char *p;
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **nn = realloc(names, (cap ? cap * 2 : 16) * sizeof(*nn));
      if (!nn) {
        rc = SB_ENOMEM;
        break;
      }
      names = nn;
      cap = cap ? cap * 2 : 16;
    }
    p = malloc(strlen(dir) + strlen(e->d_name) + 2);
    if (!p) {
      rc = SB_ENOMEM;
      break;
    }
    snprintf(p, strlen(dir) + strlen(e->d_name) + 2, "%s/%s", dir, e->d_name);
    names[n++] = p;
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof(*names), cmp_str);
  for (i = 0; i < n && !rc; i++) {
    struct stat st;
    if (stat(names[i], &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      rc = add_dir(in, names[i], role, diags, depth + 1);
    else if (S_ISREG(st.st_mode) && wanted_file(names[i]))
      rc = add_file(in, names[i], role, diags);
  }
  for (i = 0; i < n; i++)
    free(names[i]);
  free(names);
  return rc;
}

int sb_input_add_path(sb_input *in, const char *path, sb_input_role role,
                      sb_diags *diags) {
  struct stat st;

  if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return add_dir(in, path, role, diags, 0);
  return add_file(in, path, role, diags);
}

/* Keys of every source, in input order, without repeats. A ServiceAccount
 * key is implied by every TrafficTarget naming it, so repeats are common;
 * a set of "kind ns/name" strings finds them in constant time (a linear
 * scan made 10,000 sources quadratic). The strings live in arena, which
 * the caller frees after the keys (the set borrows them). */
static int source_keys(const sb_input *in, const sb_translate_opts *o,
                       sb_arena *arena, sb_key **out, size_t *nout) {
  sb_key *keys = NULL, k[8];
  size_t n = 0, cap = 0, i, j, m;
  sb_hmap *seen = sb_hmap_new(in->nsrcs * 2);
  int rc = 0;

  if (!seen)
    return SB_ENOMEM;
  for (i = 0; i < in->nsrcs && !rc; i++) {
    const sb_obj *obj = sb_world_get(in->world, in->srcs[i].kind,
                                     in->srcs[i].ns, in->srcs[i].name);
    if (!obj)
      continue;
    m = sb_translate_keys_of(obj, o, k, 8);
    for (j = 0; j < m && !rc; j++) {
      size_t a = strlen(k[j].ns), b = strlen(k[j].name), len = a + b + 3;
      char *id = sb_arena_alloc(arena, len);
      if (!id) {
        rc = SB_ENOMEM;
        break;
      }
      /* The kind as one byte, then "ns\0name": unambiguous. */
      id[0] = (char) ('A' + k[j].kind);
      memcpy(id + 1, k[j].ns, a);
      memcpy(id + 2 + a, k[j].name, b);
      if (sb_hmap_get(seen, id, len - 1))
        continue;
      if (n == cap) {
        sb_key *nk = realloc(keys, (cap ? cap * 2 : 16) * sizeof(*nk));
        if (!nk) {
          rc = SB_ENOMEM;
          break;
        }
        keys = nk;
        cap = cap ? cap * 2 : 16;
      }
      rc = sb_hmap_put(seen, id, len - 1, id, NULL);
      if (!rc)
        keys[n++] = k[j];
    }
  }
  sb_hmap_free(seen);
  if (rc) {
    free(keys);
    return rc;
  }
  *out = keys;
  *nout = n;
  return 0;
}

int sb_input_render(const sb_input *in, const sb_translate_opts *opts,
                    sb_output_format fmt, sb_buf *out, sb_diags *diags) {
  sb_key *keys = NULL;
  size_t nkeys = 0, i, j, nout = 0;
  cJSON *list = NULL, *items = NULL;
  sb_arena *arena = sb_arena_new(in->nsrcs * 32 + 64);
  sb_emit_memo *memo = sb_emit_memo_new();  /* NULL: emit without one */
  int rc;

  if (!arena) {
    sb_emit_memo_free(memo);
    return SB_ENOMEM;
  }
  rc = source_keys(in, opts, arena, &keys, &nkeys);
  if (rc) {
    sb_arena_free(arena);
    sb_emit_memo_free(memo);
    return rc;
  }
  if (fmt == SB_OUTPUT_JSON) {
    list = cJSON_CreateObject();
    if (!list || !cJSON_AddStringToObject(list, "apiVersion", "v1") ||
        !cJSON_AddStringToObject(list, "kind", "List") ||
        !(items = cJSON_AddArrayToObject(list, "items"))) {
      rc = SB_ENOMEM;
      goto done;
    }
  }
  for (i = 0; i < nkeys && !rc; i++) {
    sb_out res;

    sb_out_init(&res);
    rc = sb_translate(in->world, &keys[i], opts, &res);
    if (!rc)
      rc = sb_diags_move(diags, &res.diags);
    for (j = 0; !rc && res.outcome == SB_OUTCOME_OK && j < res.nobjs; j++) {
      if (fmt == SB_OUTPUT_JSON) {
        cJSON_AddItemToArray(items, sb_out_take(&res, j));
        continue;
      }
      if (nout++)
        rc = sb_buf_adds(out, "---\n");
      if (!rc)
        rc = sb_emit_yaml_memo(res.objs[j], out, memo);
    }
    sb_out_free(&res);
  }
  if (!rc && fmt == SB_OUTPUT_JSON)
    rc = sb_emit_json(list, out, 1);
done:
  cJSON_Delete(list);
  free(keys);
  sb_arena_free(arena);
  sb_emit_memo_free(memo);
  return rc;
}
