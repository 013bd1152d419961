/* yaml.c -- YAML streams through libyaml's event parser into the builder.
 *
 * The event API (not libyaml's document loader) is used: it builds nothing
 * of its own, so the only tree in memory is the cJSON one, and aliases are
 * expanded by the builder under the node limit instead of by libyaml.
 *
 * This file decides what a scalar means (plain scalars typed by the core
 * schema in scalar.c, quoted ones are strings, tags honoured as doc.h
 * says) and which YAML features are refused: non-scalar keys, anchors on
 * keys, aliases as keys, tags other than the standard scalar ones, strings
 * holding NUL (cJSON strings end at NUL).
 *
 * libyaml's marks count characters, not bytes. The per-document byte limit
 * is about bytes, so a cursor walks the UTF-8 input alongside the events
 * turning character indexes into byte offsets; events only move forward,
 * so the walk costs one pass over the input in total, and it only starts
 * once a document has more than a quarter of the limit in characters (a
 * character is at most four bytes). (UTF-16 input, which libyaml also
 * reads, is measured as two bytes a character.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "doc-int.h"
#include "sb/err.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

typedef struct cursor {
  const unsigned char *p;
  size_t len;
  size_t base;   /* bytes of BOM libyaml skipped without counting them */
  size_t byte;   /* offset matching idx */
  size_t idx;
  int utf16;
} cursor;

static size_t byte_at(cursor *c, size_t idx) {
  if (c->utf16)
    return c->base + idx * 2;
  /* ASCII runs eight bytes at a time. */
  while (idx - c->idx >= 8 && c->len - c->byte >= 8) {
    uint64_t w;
    memcpy(&w, c->p + c->byte, 8);
    if (w & 0x8080808080808080ULL)
      break;
    c->byte += 8;
    c->idx += 8;
  }
  while (c->idx < idx && c->byte < c->len) {
    unsigned char ch = c->p[c->byte];
    size_t w = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
    c->byte += w;
    c->idx++;
  }
  return c->byte;
}

/* "!!str" for the standard tags, the tag itself otherwise. */
static const char *short_tag(const char *tag, char *buf, size_t len) {
  size_t n = sizeof(TAG_PREFIX) - 1;

  if (strncmp(tag, TAG_PREFIX, n) == 0) {
    snprintf(buf, len, "!!%s", tag + n);
    return buf;
  }
  return tag;
}

static int tag_is(const char *tag, const char *name) {
  size_t n = sizeof(TAG_PREFIX) - 1;

  return strncmp(tag, TAG_PREFIX, n) == 0 && strcmp(tag + n, name) == 0;
}

static cJSON *number_node(double d) {
  return cJSON_CreateNumber(d);
}

static cJSON *string_node(const char *s, size_t n) {
  char *p = cJSON_malloc(n + 1);

  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return sb__string_node(p);
}

/* The typed node for a scalar event, or NULL with *rc set. */
static cJSON *scalar_node(sb__builder *b, const yaml_event_t *ev, int line,
                          int col, int *rc) {
  const char *v = (const char *) ev->data.scalar.value;
  const char *tag = (const char *) ev->data.scalar.tag;
  size_t n = ev->data.scalar.length;
  sb__scalar t;
  double d = 0;
  char tb[64];

  *rc = SB_ENOMEM;
  if (!tag) {
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
      return string_node(v, n);
    switch (sb__scalar_resolve(v, n, &d)) {
    case SB__SC_NULL: return cJSON_CreateNull();
    case SB__SC_TRUE: return cJSON_CreateTrue();
    case SB__SC_FALSE: return cJSON_CreateFalse();
    case SB__SC_INT:
    case SB__SC_FLOAT: return number_node(d);
    default: return string_node(v, n);
    }
  }
  if (strcmp(tag, "!") == 0 || tag_is(tag, "str") || tag_is(tag, "binary") ||
      tag_is(tag, "timestamp"))
    return string_node(v, n);
  t = sb__scalar_resolve(v, n, &d);
  if (tag_is(tag, "int")) {
    if (t == SB__SC_INT)
      return number_node(d);
    if (t == SB__SC_BIGINT)
      return string_node(v, n);
  } else if (tag_is(tag, "float")) {
    if (t == SB__SC_INT || t == SB__SC_FLOAT)
      return number_node(d);
    if (t == SB__SC_NONFIN)
      return string_node(v, n);
    if (t == SB__SC_BIGINT)
      return number_node(strtod(v, NULL));
  } else if (tag_is(tag, "bool")) {
    if (t == SB__SC_TRUE || t == SB__SC_FALSE)
      return cJSON_CreateBool(t == SB__SC_TRUE);
  } else if (tag_is(tag, "null")) {
    if (t == SB__SC_NULL)
      return cJSON_CreateNull();
  } else {
    *rc = sb__b_fail(b, SB_EPARSE, line, col, "unsupported tag %s",
                     short_tag(tag, tb, sizeof(tb)));
    return NULL;
  }
  *rc = sb__b_fail(b, SB_EPARSE, line, col, "cannot read \"%.*s\" as %s",
                   n > 64 ? 64 : (int) n, v, short_tag(tag, tb, sizeof(tb)));
  return NULL;
}

static int on_scalar(sb__builder *b, const yaml_event_t *ev, int line,
                     int col) {
  const char *v = (const char *) ev->data.scalar.value;
  const char *tag = (const char *) ev->data.scalar.tag;
  const char *anchor = (const char *) ev->data.scalar.anchor;
  size_t n = ev->data.scalar.length;
  cJSON *node;
  char tb[64];
  int rc;

  if (memchr(v, '\0', n))
    return sb__b_fail(b, SB_EPARSE, line, col,
                      "a string cannot hold a NUL character");
  if (sb__b_want_key(b)) {
    int merge = 0;
    if (anchor)
      return sb__b_fail(b, SB_EPARSE, line, col,
                        "anchors on mapping keys are not supported");
    if (tag && strcmp(tag, "!") != 0 && !tag_is(tag, "str") &&
        !tag_is(tag, "int") && !tag_is(tag, "float") &&
        !tag_is(tag, "bool") && !tag_is(tag, "null") &&
        !tag_is(tag, "merge"))
      return sb__b_fail(b, SB_EPARSE, line, col, "unsupported tag %s",
                        short_tag(tag, tb, sizeof(tb)));
    if (n == 2 && memcmp(v, "<<", 2) == 0 &&
        ((!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) ||
         (tag && tag_is(tag, "merge"))))
      merge = 1;
    return sb__b_key(b, v, n, merge, line, col);
  }
  node = scalar_node(b, ev, line, col, &rc);
  if (!node)
    return rc;
  rc = sb__b_value(b, node, line, col);
  if (!rc && anchor)
    rc = sb__b_anchor(b, anchor, line, col);
  return rc;
}

static int on_open(sb__builder *b, const yaml_event_t *ev, int is_map,
                   int line, int col) {
  const char *tag, *anchor;
  char tb[64];
  int rc;

  if (is_map) {
    tag = (const char *) ev->data.mapping_start.tag;
    anchor = (const char *) ev->data.mapping_start.anchor;
  } else {
    tag = (const char *) ev->data.sequence_start.tag;
    anchor = (const char *) ev->data.sequence_start.anchor;
  }
  if (tag && strcmp(tag, "!") != 0 && !tag_is(tag, is_map ? "map" : "seq"))
    return sb__b_fail(b, SB_EPARSE, line, col, "unsupported tag %s",
                      short_tag(tag, tb, sizeof(tb)));
  if (anchor && sb__b_want_key(b))
    return sb__b_fail(b, SB_EPARSE, line, col,
                      "anchors on mapping keys are not supported");
  rc = sb__b_open(b, is_map, line, col);
  if (!rc && anchor)
    rc = sb__b_anchor(b, anchor, line, col);
  return rc;
}

/* Line and column of a byte offset (reader errors carry only that). */
static void offset_pos(const char *data, size_t len, size_t off, int *line,
                       int *col) {
  size_t i;
  int l = 1, c = 1;

  if (off > len)
    off = len;
  for (i = 0; i < off; i++) {
    unsigned char ch = (unsigned char) data[i];
    if (ch == '\n' || (ch == '\r' && (i + 1 >= len || data[i + 1] != '\n'))) {
      l++;
      c = 1;
    } else if ((ch & 0xC0) != 0x80) {
      c++;
    }
  }
  *line = l;
  *col = c;
}

static int parse_error(sb__builder *b, const yaml_parser_t *p,
                       const char *data, size_t len) {
  const char *problem = p->problem ? p->problem : "syntax error";
  int line, col;

  switch (p->error) {
  case YAML_MEMORY_ERROR:
    return SB_ENOMEM;
  case YAML_READER_ERROR:
    offset_pos(data, len, p->problem_offset, &line, &col);
    if (p->problem_value != -1)
      return sb__b_fail(b, SB_EPARSE, line, col, "%s (byte 0x%02X)", problem,
                        (unsigned) p->problem_value & 0xFF);
    return sb__b_fail(b, SB_EPARSE, line, col, "%s", problem);
  default:
    line = (int) p->problem_mark.line + 1;
    col = (int) p->problem_mark.column + 1;
    if (p->context)
      return sb__b_fail(b, SB_EPARSE, line, col, "%s (%s at line %d)",
                        problem, p->context,
                        (int) p->context_mark.line + 1);
    return sb__b_fail(b, SB_EPARSE, line, col, "%s", problem);
  }
}

int sb__yaml_parse(sb__builder *b, const char *data, size_t len,
                   const sb_doc_limits *lim) {
  yaml_parser_t p;
  yaml_event_t ev;
  cursor cur;
  size_t doc_idx = 0, doc_off = 0;
  int rc = 0, in_doc = 0, done = 0, have_off = 0;

  memset(&cur, 0, sizeof(cur));
  cur.p = (const unsigned char *) data;
  cur.len = len;
  if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
    cur.base = cur.byte = 3;
  } else if (len >= 2 && ((unsigned char) data[0] == 0xFE ||
                          (unsigned char) data[0] == 0xFF) &&
             ((unsigned char) data[1] == 0xFE ||
              (unsigned char) data[1] == 0xFF) && data[0] != data[1]) {
    cur.utf16 = 1;
    cur.base = 2;
  }
  if (!yaml_parser_initialize(&p))
    return SB_ENOMEM;
  yaml_parser_set_input_string(&p, (const unsigned char *) data, len);
  while (!done) {
    int line, col;

    if (!yaml_parser_parse(&p, &ev)) {
      rc = parse_error(b, &p, data, len);
      break;
    }
    line = (int) ev.start_mark.line + 1;
    col = (int) ev.start_mark.column + 1;
    if (in_doc && ev.end_mark.index - doc_idx > lim->max_doc_bytes / 4) {
      if (!have_off) {
        doc_off = byte_at(&cur, doc_idx);
        have_off = 1;
      }
    }
    if (have_off && byte_at(&cur, ev.end_mark.index) - doc_off >
                        lim->max_doc_bytes) {
      char sz[64];
      rc = sb__b_fail(b, SB_ELIMIT, line, col, "document is larger than %s",
                      sb__size_text(lim->max_doc_bytes, sz, sizeof(sz)));
      yaml_event_delete(&ev);
      break;
    }
    switch (ev.type) {
    case YAML_DOCUMENT_START_EVENT:
      in_doc = 1;
      have_off = 0;
      doc_idx = ev.start_mark.index;
      rc = sb__b_doc_start(b, line, col);
      break;
    case YAML_DOCUMENT_END_EVENT:
      in_doc = 0;
      have_off = 0;
      rc = sb__b_doc_end(b);
      break;
    case YAML_MAPPING_START_EVENT:
      rc = on_open(b, &ev, 1, line, col);
      break;
    case YAML_SEQUENCE_START_EVENT:
      rc = on_open(b, &ev, 0, line, col);
      break;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
      rc = sb__b_close(b);
      break;
    case YAML_SCALAR_EVENT:
      rc = on_scalar(b, &ev, line, col);
      break;
    case YAML_ALIAS_EVENT:
      rc = sb__b_alias(b, (const char *) ev.data.alias.anchor, line, col);
      break;
    case YAML_STREAM_END_EVENT:
      done = 1;
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
    if (rc)
      break;
  }
  sb__b_abort(b);
  yaml_parser_delete(&p);
  return rc;
}
