/* doc.c -- sb_doc objects, their position tables, and the tree builder.
 *
 * Positions. cJSON nodes have no room for a line number, so every sb_doc
 * owns a side table from node address to (line, column): open addressing,
 * linear probing, a Fibonacci hash of the pointer, 16-byte entries, two
 * thirds full. While a document is read its positions are only appended to
 * a vector the builder reuses from document to document; the document's
 * table is built once at its end, at its exact size, in one allocation.
 * (A table grown node by node cost 12% of the parse time, mostly in
 * malloc.) The rare lookups during parsing -- alias copies, merges,
 * duplicate-key messages -- use an index over the vector that is built on
 * first use. The table is keyed by address only, so it keeps answering for
 * a tree taken out with sb_doc_take_root while that tree lives (and
 * answers nonsense for freed nodes, as the contract allows).
 *
 * The builder. Both readers (yaml.c, json.c) call into it with a stream of
 * "key / value / open / close / anchor / alias" events. It keeps a stack of
 * open containers (no recursion anywhere, so hostile nesting cannot blow
 * the C stack even with generous limits) and is the one place that
 * enforces the rules every input obeys:
 *   - depth and node limits; aliases are charged the size of the node they
 *     copy *before* copying, so a billion-laughs stream costs what the
 *     node limit allows and not a byte more (with a limit of 10,000 nodes
 *     a 10^10-node bomb is refused in about a millisecond);
 *   - duplicate keys are errors (Kubernetes' strict decoding); small maps
 *     are checked by a linear scan, maps past INDEX_AT members get an
 *     sb_hmap so a hostile 100,000-key map stays linear;
 *   - merge keys: the value of `<<` is built aside (in the "graveyard", so
 *     anchors inside it stay valid until the document ends) and, when the
 *     mapping closes, copies of its members whose keys the mapping does not
 *     already have are appended -- explicit keys win, earlier maps of a
 *     `<<: [*a, *b]` list win over later ones, merged keys come last;
 *   - positions: a mapping member is recorded at its key (that is where a
 *     "spec.backends: ..." message should point), anything else at its own
 *     start; copies made by aliases keep the positions of the originals.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc-int.h"
#include "sb/err.h"
#include "sb/hmap.h"

/* ---- sb_doc and its position table -------------------------------------- */

struct pos_ent {
  const cJSON *node;  /* NULL = empty slot */
  int line;
  int col;
};

/* Open addressing over cap slots (any cap below 2^32). */
typedef struct pos_tab {
  struct pos_ent *v;
  size_t cap;
  size_t n;
} pos_tab;

struct sb_doc {
  cJSON *root;
  const char *file;  /* stored right after the struct */
  int line;          /* the root's line */
  pos_tab pos;
};

void sb_doc_limits_default(sb_doc_limits *l) {
  l->max_input_bytes = (size_t) 64 << 20;
  l->max_doc_bytes = (size_t) 8 << 20;
  l->max_depth = 64;
  l->max_nodes = 1000000;
}

static size_t pos_slot(const cJSON *node, size_t cap) {
  uint64_t h = (uint64_t) (uintptr_t) node * 0x9E3779B97F4A7C15ULL;
  return (size_t) (((h >> 32) * (uint64_t) cap) >> 32);
}

/* Inserts or replaces; the table must have a free slot. */
static void tab_put(pos_tab *t, const struct pos_ent *e) {
  size_t j = pos_slot(e->node, t->cap);

  while (t->v[j].node && t->v[j].node != e->node)
    j = j + 1 == t->cap ? 0 : j + 1;
  if (!t->v[j].node)
    t->n++;
  t->v[j] = *e;
}

static const struct pos_ent *tab_get(const pos_tab *t, const cJSON *node) {
  size_t j;

  if (!t->cap || !node)
    return NULL;
  for (j = pos_slot(node, t->cap); t->v[j].node;
       j = j + 1 == t->cap ? 0 : j + 1)
    if (t->v[j].node == node)
      return &t->v[j];
  return NULL;
}

/* Replaces t by a table of cap slots holding v[0..n). */
static int tab_build(pos_tab *t, size_t cap, const struct pos_ent *v,
                     size_t n) {
  size_t i;

  if (cap > UINT32_MAX)
    return SB_ENOMEM;
  free(t->v);
  t->v = calloc(cap, sizeof(*t->v));
  t->cap = t->v ? cap : 0;
  t->n = 0;
  if (!t->v)
    return SB_ENOMEM;
  for (i = 0; i < n; i++)
    tab_put(t, &v[i]);
  return 0;
}

static void tab_free(pos_tab *t) {
  free(t->v);
  t->v = NULL;
  t->cap = 0;
  t->n = 0;
}

const cJSON *sb_doc_root(const sb_doc *doc) {
  return doc ? doc->root : NULL;
}

cJSON *sb_doc_take_root(sb_doc *doc) {
  cJSON *r;

  if (!doc)
    return NULL;
  r = doc->root;
  doc->root = NULL;
  return r;
}

const char *sb_doc_file(const sb_doc *doc) {
  return doc ? doc->file : NULL;
}

int sb_doc_line(const sb_doc *doc, const cJSON *node) {
  const struct pos_ent *e;

  if (!doc)
    return 0;
  e = tab_get(&doc->pos, node);
  return e ? e->line : doc->line;
}

int sb_doc_col(const sb_doc *doc, const cJSON *node) {
  const struct pos_ent *e;

  if (!doc)
    return 0;
  e = tab_get(&doc->pos, node);
  return e ? e->col : 0;
}

void sb_doc_free(sb_doc *doc) {
  if (!doc)
    return;
  cJSON_Delete(doc->root);
  tab_free(&doc->pos);
  free(doc);
}

/* ---- the builder -------------------------------------------------------- */

/* Maps with more members than this get a hash index for duplicate checks. */
#define INDEX_AT 12

typedef struct frame {
  cJSON *node;
  char *key;                /* pending key (cJSON_malloc'd), maps only */
  int key_line;
  int key_col;
  unsigned char is_map;
  unsigned char has_key;    /* a key waits for its value */
  unsigned char merge_key;  /* ... and that key is `<<` */
  unsigned char had_merge;
  unsigned height;          /* container levels, this one included */
  size_t nmembers;
  sb_hmap *index;           /* key -> member, once nmembers > INDEX_AT */
  cJSON *merge;             /* the value of `<<` (lives in the graveyard) */
  int merge_line;
  int merge_col;
  size_t anchor;            /* 1 + index of the anchor naming this node */
  size_t nodes_at_open;
} frame;

typedef struct anchor {
  char *name;
  cJSON *node;
  size_t size;      /* nodes, aliases expanded */
  unsigned height;  /* container levels (0 = scalar) */
  int complete;
} anchor;

struct sb__builder {
  char *file;
  sb_doc_limits lim;
  sb_doc_fn fn;
  void *arg;
  sb_diags *diags;
  sb_doc *doc;          /* being built; NULL between documents */
  frame *st;
  unsigned depth;
  unsigned cap;
  size_t nodes;         /* of this document, alias copies included */
  anchor *an;
  size_t nan;
  size_t an_cap;
  sb_hmap *an_map;      /* name -> 1 + index into an */
  cJSON *graveyard;     /* merge values, freed with the document */
  cJSON *last;          /* node of the last value/open, for anchors */
  int last_open;
  size_t delivered;     /* documents handed to fn */
  struct pos_ent *pv;   /* positions of this document, in order */
  size_t pn;
  size_t pcap;
  pos_tab ix;           /* index over pv, built when first needed */
};

static int b_pos_put(sb__builder *b, const cJSON *node, int line, int col) {
  struct pos_ent *e;

  if (b->pn == b->pcap) {
    size_t cap = b->pcap ? b->pcap * 2 : 256;
    struct pos_ent *v = realloc(b->pv, cap * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    b->pv = v;
    b->pcap = cap;
  }
  e = &b->pv[b->pn++];
  e->node = node;
  e->line = line;
  e->col = col;
  if (b->ix.cap) {
    if (b->ix.n * 3 >= b->ix.cap * 2)
      return tab_build(&b->ix, b->ix.cap * 2, b->pv, b->pn);
    tab_put(&b->ix, e);
  }
  return 0;
}

static const struct pos_ent *b_pos_get(sb__builder *b, const cJSON *node) {
  if (!b->ix.cap && tab_build(&b->ix, b->pn * 2 + 16, b->pv, b->pn))
    return NULL;
  return tab_get(&b->ix, node);
}

sb__builder *sb__b_new(const char *file, const sb_doc_limits *lim,
                       sb_doc_fn fn, void *arg, sb_diags *diags) {
  sb__builder *b = calloc(1, sizeof(*b));

  if (!b)
    return NULL;
  b->file = strdup(file ? file : "-");
  if (!b->file) {
    free(b);
    return NULL;
  }
  b->lim = *lim;
  b->fn = fn;
  b->arg = arg;
  b->diags = diags;
  return b;
}

int sb__b_fail(sb__builder *b, int rc, int line, int col, const char *fmt,
               ...) {
  sb_diag_loc loc;
  sb_buf msg;
  va_list ap;
  int r;

  if (rc == SB_ENOMEM)
    return rc;
  memset(&loc, 0, sizeof(loc));
  loc.file = b->file;
  loc.line = line;
  loc.col = col;
  sb_buf_init(&msg, 4096);
  va_start(ap, fmt);
  r = sb_buf_vaddf(&msg, fmt, ap);
  va_end(ap);
  if (r == SB_ENOMEM)
    return SB_ENOMEM;
  /* A message cut at the buffer's cap still says what went wrong. */
  if (sb_diags_add(b->diags, SB_DIAG_ERROR, SB_REASON_SYNTAX, &loc, NULL,
                   "%s", sb_buf_cstr(&msg))) {
    sb_buf_free(&msg);
    return SB_ENOMEM;
  }
  sb_buf_free(&msg);
  return rc;
}

static void anchors_clear(sb__builder *b) {
  size_t i;

  for (i = 0; i < b->nan; i++)
    free(b->an[i].name);
  b->nan = 0;
  sb_hmap_free(b->an_map);
  b->an_map = NULL;
}

static void frame_clear(frame *f) {
  cJSON_free(f->key);
  f->key = NULL;
  sb_hmap_free(f->index);
  f->index = NULL;
}

void sb__b_abort(sb__builder *b) {
  while (b->depth > 0)
    frame_clear(&b->st[--b->depth]);
  anchors_clear(b);
  cJSON_Delete(b->graveyard);
  b->graveyard = NULL;
  sb_doc_free(b->doc);
  b->doc = NULL;
  b->last = NULL;
  b->pn = 0;
  tab_free(&b->ix);
}

void sb__b_free(sb__builder *b) {
  if (!b)
    return;
  sb__b_abort(b);
  free(b->st);
  free(b->an);
  free(b->pv);
  free(b->file);
  free(b);
}

int sb__b_doc_start(sb__builder *b, int line, int col) {
  size_t flen = strlen(b->file) + 1;
  char *name;

  sb__b_abort(b);
  b->doc = malloc(sizeof(*b->doc) + flen);
  if (!b->doc)
    return SB_ENOMEM;
  memset(b->doc, 0, sizeof(*b->doc));
  name = (char *) (b->doc + 1);
  memcpy(name, b->file, flen);
  b->doc->file = name;
  b->doc->line = line;
  b->nodes = 0;
  (void) col;
  return 0;
}

int sb__b_doc_end(sb__builder *b) {
  sb_doc *d = b->doc;
  const struct pos_ent *e;

  if (!d || b->depth != 0)
    return SB_EINVAL;  /* a reader bug, not an input problem */
  if (d->root && !cJSON_IsNull(d->root) &&
      tab_build(&d->pos, b->pn + b->pn / 2 + 1, b->pv, b->pn))
    return SB_ENOMEM;
  b->pn = 0;
  tab_free(&b->ix);
  anchors_clear(b);
  cJSON_Delete(b->graveyard);
  b->graveyard = NULL;
  b->doc = NULL;
  b->last = NULL;
  /* Like kubectl, a document that is empty or just `null` is no object. */
  if (!d->root || cJSON_IsNull(d->root)) {
    sb_doc_free(d);
    return 0;
  }
  e = tab_get(&d->pos, d->root);
  if (e)
    d->line = e->line;
  b->delivered++;
  return b->fn(b->arg, d);
}

unsigned sb__b_depth(const sb__builder *b) {
  return b->depth;
}

int sb__b_top_is_map(const sb__builder *b) {
  return b->depth > 0 && b->st[b->depth - 1].is_map;
}

int sb__b_want_key(const sb__builder *b) {
  return b->depth > 0 && b->st[b->depth - 1].is_map &&
         !b->st[b->depth - 1].has_key;
}

cJSON *sb__string_node(char *s) {
  cJSON *n = cJSON_CreateNull();

  if (!n) {
    cJSON_free(s);
    return NULL;
  }
  n->type = cJSON_String;
  n->valuestring = s;
  return n;
}

/* ---- duplicate keys ------------------------------------------------------ */

static cJSON *member_find(const frame *f, const char *k, size_t n) {
  cJSON *c;

  if (f->index)
    return sb_hmap_get(f->index, k, n);
  for (c = f->node->child; c; c = c->next)
    if (strncmp(c->string, k, n) == 0 && c->string[n] == '\0')
      return c;
  return NULL;
}

/* Appends a keyed member (c->string set) and indexes it. */
static int member_add(frame *f, cJSON *c) {
  cJSON_AddItemToArray(f->node, c);
  f->nmembers++;
  if (!f->index && f->nmembers > INDEX_AT) {
    cJSON *m;
    f->index = sb_hmap_new(f->nmembers * 2);
    if (!f->index)
      return SB_ENOMEM;
    for (m = f->node->child; m; m = m->next)
      if (sb_hmap_put(f->index, m->string, strlen(m->string), m, NULL))
        return SB_ENOMEM;
    return 0;
  }
  if (f->index)
    return sb_hmap_put(f->index, c->string, strlen(c->string), c, NULL);
  return 0;
}

/* ---- copies (aliases, merges) ------------------------------------------- */

static char *dup_cjson(const char *s) {
  size_t n = strlen(s);
  char *p = cJSON_malloc(n + 1);

  if (p)
    memcpy(p, s, n + 1);
  return p;
}

static cJSON *shallow(const cJSON *s, int with_key) {
  cJSON *c = NULL;

  switch (s->type & 0xFF) {
  case cJSON_False: c = cJSON_CreateFalse(); break;
  case cJSON_True: c = cJSON_CreateTrue(); break;
  case cJSON_NULL: c = cJSON_CreateNull(); break;
  case cJSON_Number: c = cJSON_CreateNumber(s->valuedouble); break;
  case cJSON_String: c = cJSON_CreateString(s->valuestring); break;
  case cJSON_Array: c = cJSON_CreateArray(); break;
  case cJSON_Object: c = cJSON_CreateObject(); break;
  default: return NULL;
  }
  if (c && with_key && s->string) {
    c->string = dup_cjson(s->string);
    if (!c->string) {
      cJSON_Delete(c);
      return NULL;
    }
  }
  return c;
}

struct copy_ent {
  const cJSON *next;  /* next source child to copy */
  cJSON *dst;
};

/* Deep copy without recursion; every copy gets its original's position.
 * member: src is a mapping member copied as one (merge), so the top copy
 * keeps key and position too; otherwise (alias) the caller gives both.
 * Fails with SB_ELIMIT once more than budget nodes would be made. */
static int copy_tree(sb__builder *b, const cJSON *src, size_t budget,
                     int member, cJSON **out, size_t *made) {
  struct copy_ent *st = NULL, *t;
  size_t n = 0, cap = 0;
  const struct pos_ent *e;
  cJSON *top;
  int rc = 0;

  *out = NULL;
  *made = 0;
  if (budget == 0)
    return SB_ELIMIT;
  top = shallow(src, member);
  if (!top)
    return SB_ENOMEM;
  *made = 1;
  if (member && (e = b_pos_get(b, src)) &&
      b_pos_put(b, top, e->line, e->col)) {
    cJSON_Delete(top);
    return SB_ENOMEM;
  }
  if (src->child) {
    cap = 16;
    st = malloc(cap * sizeof(*st));
    if (!st) {
      cJSON_Delete(top);
      return SB_ENOMEM;
    }
    st[n].next = src->child;
    st[n].dst = top;
    n++;
  }
  while (n > 0) {
    const cJSON *s = st[n - 1].next;
    cJSON *c;

    if (!s) {
      n--;
      continue;
    }
    st[n - 1].next = s->next;
    if (*made >= budget) {
      rc = SB_ELIMIT;
      break;
    }
    c = shallow(s, 1);
    if (!c) {
      rc = SB_ENOMEM;
      break;
    }
    cJSON_AddItemToArray(st[n - 1].dst, c);
    (*made)++;
    if ((e = b_pos_get(b, s)) && b_pos_put(b, c, e->line, e->col)) {
      rc = SB_ENOMEM;
      break;
    }
    if (s->child) {
      if (n == cap) {
        t = realloc(st, cap * 2 * sizeof(*st));
        if (!t) {
          rc = SB_ENOMEM;
          break;
        }
        st = t;
        cap *= 2;
      }
      st[n].next = s->child;
      st[n].dst = c;
      n++;
    }
  }
  free(st);
  if (rc) {
    cJSON_Delete(top);
    return rc;
  }
  *out = top;
  return 0;
}

/* ---- attaching nodes ---------------------------------------------------- */

static int fail_nodes(sb__builder *b, int line, int col, int alias) {
  if (alias)
    return sb__b_fail(b, SB_ELIMIT, line, col,
                      "aliases expand to more than %zu nodes",
                      b->lim.max_nodes);
  return sb__b_fail(b, SB_ELIMIT, line, col,
                    "document has more than %zu nodes", b->lim.max_nodes);
}

static int limit_nodes(sb__builder *b, size_t more, int line, int col,
                       int alias) {
  if (more <= b->lim.max_nodes && b->nodes <= b->lim.max_nodes - more)
    return 0;
  return fail_nodes(b, line, col, alias);
}

static int limit_depth(sb__builder *b, unsigned more, int line, int col) {
  if (more <= b->lim.max_depth && b->depth <= b->lim.max_depth - more)
    return 0;
  return sb__b_fail(b, SB_ELIMIT, line, col,
                    "document nests deeper than %u levels", b->lim.max_depth);
}

/* Hangs node under the innermost container (or makes it the root) and
 * records its position. The node is owned by the tree even on error. */
static int attach(sb__builder *b, cJSON *node, int line, int col) {
  frame *f;

  if (b->depth == 0) {
    if (b->doc->root) {
      cJSON_Delete(node);
      return SB_EINVAL;
    }
    b->doc->root = node;
    return b_pos_put(b, node, line, col);
  }
  f = &b->st[b->depth - 1];
  if (!f->is_map) {
    cJSON_AddItemToArray(f->node, node);
    return b_pos_put(b, node, line, col);
  }
  if (!f->has_key) {
    cJSON_Delete(node);
    return SB_EINVAL;
  }
  f->has_key = 0;
  if (f->merge_key) {
    f->merge_key = 0;
    if (!b->graveyard && !(b->graveyard = cJSON_CreateArray())) {
      cJSON_Delete(node);
      return SB_ENOMEM;
    }
    cJSON_AddItemToArray(b->graveyard, node);
    f->merge = node;
    return b_pos_put(b, node, f->merge_line, f->merge_col);
  }
  node->string = f->key;
  f->key = NULL;
  if (member_add(f, node))
    return SB_ENOMEM;
  return b_pos_put(b, node, f->key_line, f->key_col);
}

static void grow_height(sb__builder *b, unsigned child_height) {
  if (b->depth > 0 && b->st[b->depth - 1].height < child_height + 1)
    b->st[b->depth - 1].height = child_height + 1;
}

int sb__b_key(sb__builder *b, const char *s, size_t n, int merge, int line,
              int col) {
  frame *f;
  cJSON *prev;

  if (!sb__b_want_key(b))
    return SB_EINVAL;
  f = &b->st[b->depth - 1];
  if (merge) {
    if (f->had_merge)
      return sb__b_fail(b, SB_EPARSE, line, col,
                        "duplicate merge key \"<<\" (first at line %d)",
                        f->merge_line);
    f->had_merge = 1;
    f->merge_key = 1;
    f->has_key = 1;
    f->merge_line = line;
    f->merge_col = col;
    return 0;
  }
  prev = member_find(f, s, n);
  if (prev && strlen(prev->string) == n) {
    const struct pos_ent *e = b_pos_get(b, prev);
    return sb__b_fail(b, SB_EPARSE, line, col,
                      "duplicate key \"%s\" (first at line %d)",
                      prev->string, e ? e->line : 0);
  }
  f->key = cJSON_malloc(n + 1);
  if (!f->key)
    return SB_ENOMEM;
  memcpy(f->key, s, n);
  f->key[n] = '\0';
  f->key_line = line;
  f->key_col = col;
  f->has_key = 1;
  return 0;
}

int sb__b_value(sb__builder *b, cJSON *node, int line, int col) {
  int rc;

  if (!node)
    return SB_ENOMEM;
  if (sb__b_want_key(b)) {
    cJSON_Delete(node);
    return SB_EINVAL;
  }
  rc = limit_nodes(b, 1, line, col, 0);
  if (rc) {
    cJSON_Delete(node);
    return rc;
  }
  b->nodes++;
  b->last = node;
  b->last_open = 0;
  return attach(b, node, line, col);
}

int sb__b_open(sb__builder *b, int is_map, int line, int col) {
  cJSON *node;
  frame *f;
  int rc;

  if (sb__b_want_key(b))
    return sb__b_fail(b, SB_EPARSE, line, col,
                      "a mapping key must be a scalar");
  if ((rc = limit_depth(b, 1, line, col)) ||
      (rc = limit_nodes(b, 1, line, col, 0)))
    return rc;
  if (b->depth == b->cap) {
    unsigned cap = b->cap ? b->cap * 2 : 16;
    frame *st = realloc(b->st, cap * sizeof(*st));
    if (!st)
      return SB_ENOMEM;
    b->st = st;
    b->cap = cap;
  }
  node = is_map ? cJSON_CreateObject() : cJSON_CreateArray();
  if (!node)
    return SB_ENOMEM;
  rc = attach(b, node, line, col);
  if (rc)
    return rc;
  f = &b->st[b->depth++];
  memset(f, 0, sizeof(*f));
  f->node = node;
  f->is_map = (unsigned char) (is_map != 0);
  f->height = 1;
  f->nodes_at_open = b->nodes;
  b->nodes++;
  b->last = node;
  b->last_open = 1;
  return 0;
}

/* Appends copies of the members of src that f does not have yet. */
static int merge_from(sb__builder *b, frame *f, const cJSON *src, int line,
                      int col) {
  const cJSON *m;

  for (m = src->child; m; m = m->next) {
    cJSON *c;
    size_t made;
    int rc;

    if (member_find(f, m->string, strlen(m->string)))
      continue;
    rc = copy_tree(b, m, b->lim.max_nodes - b->nodes, 1, &c, &made);
    if (rc == SB_ELIMIT)
      return fail_nodes(b, line, col, 1);
    if (rc)
      return rc;
    b->nodes += made;
    if (member_add(f, c))
      return SB_ENOMEM;
  }
  return 0;
}

static int do_merge(sb__builder *b, frame *f) {
  const cJSON *v = f->merge, *m;
  int rc;

  if (cJSON_IsObject(v))
    return merge_from(b, f, v, f->merge_line, f->merge_col);
  if (cJSON_IsArray(v)) {
    for (m = v->child; m; m = m->next)
      if (!cJSON_IsObject(m))
        break;
    if (!m) {
      for (m = v->child; m; m = m->next)
        if ((rc = merge_from(b, f, m, f->merge_line, f->merge_col)))
          return rc;
      return 0;
    }
  }
  return sb__b_fail(b, SB_EPARSE, f->merge_line, f->merge_col,
                    "the value of a merge key (<<) must be a mapping or a "
                    "sequence of mappings");
}

int sb__b_close(sb__builder *b) {
  frame *f;
  unsigned h;
  int rc;

  if (b->depth == 0)
    return SB_EINVAL;
  f = &b->st[b->depth - 1];
  if (f->has_key)
    return SB_EINVAL;
  if (f->merge && (rc = do_merge(b, f)))
    return rc;
  if (f->anchor) {
    anchor *a = &b->an[f->anchor - 1];
    a->complete = 1;
    a->size = b->nodes - f->nodes_at_open;
    a->height = f->height;
  }
  h = f->height;
  frame_clear(f);
  b->depth--;
  grow_height(b, h);
  return 0;
}

int sb__b_anchor(sb__builder *b, const char *name, int line, int col) {
  size_t idx;
  anchor *a;

  if (!b->last)
    return SB_EINVAL;
  if (b->nan == b->an_cap) {
    size_t cap = b->an_cap ? b->an_cap * 2 : 8;
    anchor *an = realloc(b->an, cap * sizeof(*an));
    if (!an)
      return SB_ENOMEM;
    b->an = an;
    b->an_cap = cap;
  }
  if (!b->an_map && !(b->an_map = sb_hmap_new(8)))
    return SB_ENOMEM;
  idx = b->nan;
  a = &b->an[idx];
  memset(a, 0, sizeof(*a));
  a->name = strdup(name);
  if (!a->name)
    return SB_ENOMEM;
  b->nan++;
  a->node = b->last;
  if (b->last_open) {
    b->st[b->depth - 1].anchor = idx + 1;
  } else {
    a->complete = 1;
    a->size = 1;
  }
  (void) line;
  (void) col;
  /* A later anchor of the same name replaces the earlier one. */
  return sb_hmap_put(b->an_map, a->name, strlen(a->name),
                     (void *) (uintptr_t) (idx + 1), NULL);
}

int sb__b_alias(sb__builder *b, const char *name, int line, int col) {
  uintptr_t idx = 0;
  size_t made;
  anchor *a;
  cJSON *c;
  int rc;

  if (sb__b_want_key(b))
    return sb__b_fail(b, SB_EPARSE, line, col,
                      "an alias cannot be a mapping key");
  if (b->an_map)
    idx = (uintptr_t) sb_hmap_get(b->an_map, name, strlen(name));
  if (!idx)
    return sb__b_fail(b, SB_EPARSE, line, col, "unknown anchor \"%s\"",
                      name);
  a = &b->an[idx - 1];
  if (!a->complete)
    return sb__b_fail(b, SB_EPARSE, line, col,
                      "alias *%s refers to a node that contains it", name);
  /* Charge the whole expansion before making any of it. */
  if ((rc = limit_nodes(b, a->size, line, col, 1)) ||
      (rc = limit_depth(b, a->height, line, col)))
    return rc;
  rc = copy_tree(b, a->node, a->size, 0, &c, &made);
  if (rc == SB_ELIMIT)  /* sizes are upper bounds, so this cannot happen */
    return fail_nodes(b, line, col, 1);
  if (rc)
    return rc;
  b->nodes += a->size;
  b->last = NULL;
  grow_height(b, a->height);
  return attach(b, c, line, col);
}

/* ---- entry point -------------------------------------------------------- */

const char *sb__size_text(size_t n, char *buf, size_t len) {
  if (n >= ((size_t) 1 << 20) && n % ((size_t) 1 << 20) == 0)
    snprintf(buf, len, "%zu MiB", n >> 20);
  else if (n >= 1024 && n % 1024 == 0)
    snprintf(buf, len, "%zu KiB", n >> 10);
  else
    snprintf(buf, len, "%zu bytes", n);
  return buf;
}

/* One pass of one reader over the whole input. */
static int run(int json, const char *file, const char *data, size_t len,
               const sb_doc_limits *lim, sb_doc_fn fn, void *arg,
               sb_diags *diags, size_t *delivered) {
  sb__builder *b = sb__b_new(file, lim, fn, arg, diags);
  int rc;

  if (!b)
    return SB_ENOMEM;
  if (json)
    rc = sb__json_parse(b, data, len, lim);
  else
    rc = sb__yaml_parse(b, data, len, lim);
  *delivered = b->delivered;
  sb__b_free(b);
  return rc;
}

/* Does a line start with a YAML document marker? Valid JSON cannot have
 * one: strings hold no raw newline, and no token starts with "--" or ".". */
static int has_doc_marker(const char *data, size_t len) {
  const char *p = data, *end = data + len;

  while (p < end && (p = memchr(p, '\n', (size_t) (end - p)))) {
    p++;
    if (end - p >= 3 &&
        (memcmp(p, "---", 3) == 0 || memcmp(p, "...", 3) == 0))
      return 1;
  }
  return 0;
}

/* Did the attempt whose first error is a get further than b's? */
static int further(const sb_diags *a, const sb_diags *b) {
  if (!a->n || !b->n)
    return a->n > 0;
  return a->v[0].line > b->v[0].line ||
         (a->v[0].line == b->v[0].line && a->v[0].col > b->v[0].col);
}

/* Takes the diagnostics of the attempt that stands; frees the other. */
static int keep_diags(sb_diags *dst, sb_diags *win, sb_diags *lose, int rc) {
  sb_diags_free(lose);
  if (sb_diags_move(dst, win)) {
    sb_diags_free(win);
    return SB_ENOMEM;
  }
  return rc;
}

int sb_doc_parse(const char *file, const char *data, size_t len,
                 const sb_doc_limits *limits, sb_doc_fn fn, void *arg,
                 sb_diags *diags) {
  sb_diags jd, yd;
  sb_doc_limits lim;
  size_t i = 0, njson, nyaml;
  int rc, yrc;

  if (!fn || !diags || (!data && len))
    return SB_EINVAL;
  if (!data)
    data = "";
  if (limits)
    lim = *limits;
  else
    sb_doc_limits_default(&lim);
  if (len > lim.max_input_bytes) {
    sb_diag_loc loc;
    char sz[64];
    memset(&loc, 0, sizeof(loc));
    loc.file = file ? file : "-";
    if (sb_diags_add(diags, SB_DIAG_ERROR, SB_REASON_SYNTAX, &loc, NULL,
                     "input is larger than %s",
                     sb__size_text(lim.max_input_bytes, sz, sizeof(sz))))
      return SB_ENOMEM;
    return SB_ELIMIT;
  }
  /* kubectl's rule: a stream whose first non-blank byte opens an object or
   * array is JSON, anything else YAML -- except that a stream with a line
   * starting `---` or `...` is YAML (`[a]\n---\nb: 1`). Unlike kubectl,
   * when not a single
   * JSON value could be read, the input gets a second chance as YAML (a
   * flow mapping `{a: 1}` is YAML, not broken JSON). If YAML fails too
   * before delivering anything, the reader that got further reports (ties
   * go to JSON). */
  if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
    i = 3;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' ||
                     data[i] == '\r'))
    i++;
  if (i >= len || (data[i] != '{' && data[i] != '[') ||
      has_doc_marker(data + i, len - i))
    return run(0, file, data, len, &lim, fn, arg, diags, &nyaml);
  sb_diags_init(&jd);
  sb_diags_init(&yd);
  rc = run(1, file, data, len, &lim, fn, arg, &jd, &njson);
  if (rc != SB_EPARSE || njson > 0)
    return keep_diags(diags, &jd, &yd, rc);
  yrc = run(0, file, data, len, &lim, fn, arg, &yd, &nyaml);
  if (yrc == 0 || nyaml > 0 || (yrc != SB_EPARSE && yrc != SB_ELIMIT) ||
      further(&yd, &jd))
    return keep_diags(diags, &yd, &jd, yrc);
  return keep_diags(diags, &jd, &yd, rc);
}
