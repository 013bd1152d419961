/* json.c -- JSON streams (one or more concatenated values) into the builder.
 *
 * Why not libyaml for JSON too: it fails on valid JSON -- surrogate pairs
 * ("\ud83d\ude00" is "invalid Unicode character escape code"), a key and
 * its colon on different lines, keys longer than 1024 characters -- and it
 * cannot resume after an error, while a JSON stream can: a bad value is
 * reported and the scanner skips to the next line that starts with `{` or
 * `[`. Why not cJSON's parser: it records no positions, accepts duplicate
 * keys and turns 20-digit integers into approximations. So this is a small
 * RFC 8259 scanner driving the same builder as YAML, which keeps every rule
 * (limits, duplicate keys, number handling) identical for both formats. It
 * is also several times faster than libyaml.
 *
 * Strings must be valid UTF-8; "\u0000" and lone surrogates are errors
 * (a cJSON string cannot hold NUL, UTF-8 cannot hold a surrogate).
 * Integers above 2^53 and numbers that overflow a double stay strings with
 * their exact text, as in YAML. Columns count characters, like libyaml's:
 * the scanner counts UTF-8 continuation bytes per line as it validates
 * strings, so a column costs a subtraction.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc-int.h"
#include "sb/err.h"

typedef struct jp {
  sb__builder *b;
  const sb_doc_limits *lim;
  const char *s;
  size_t len;
  size_t i;
  int line;
  size_t line_start;
  size_t cont;  /* UTF-8 continuation bytes in [line_start, i) */
  int stopped;  /* the callback returned non-zero */
} jp;

enum { ST_VALUE, ST_OBJ_FIRST, ST_ARR_FIRST, ST_KEY, ST_AFTER };

/* Column of the scan position (only valid at j->i). */
static int col_now(const jp *j) {
  return (int) (j->i - j->line_start - j->cont) + 1;
}

/* Column of any offset on the current line (error paths only). */
static int col_at(const jp *j, size_t at) {
  size_t k;
  int c = 1;

  for (k = j->line_start; k < at && k < j->len; k++)
    if (((unsigned char) j->s[k] & 0xC0) != 0x80)
      c++;
  return c;
}

static int fail_at(jp *j, size_t at, const char *what) {
  return sb__b_fail(j->b, SB_EPARSE, j->line, col_at(j, at), "%s", what);
}

static void skip_ws(jp *j) {
  while (j->i < j->len) {
    char c = j->s[j->i];
    if (c == ' ' || c == '\t' ||
        (c == '\r' && j->i + 1 < j->len && j->s[j->i + 1] == '\n')) {
      j->i++;
    } else if (c == '\n' || c == '\r') {  /* a lone CR ends a line too */
      j->i++;
      j->line++;
      j->line_start = j->i;
      j->cont = 0;
    } else {
      break;
    }
  }
}

static int hex4(const char *p, unsigned *v) {
  unsigned x = 0;
  int k;

  for (k = 0; k < 4; k++) {
    char c = p[k];
    x <<= 4;
    if (c >= '0' && c <= '9')
      x |= (unsigned) (c - '0');
    else if (c >= 'a' && c <= 'f')
      x |= (unsigned) (c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      x |= (unsigned) (c - 'A' + 10);
    else
      return -1;
  }
  *v = x;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char) cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char) (0xC0 | (cp >> 6));
    o[1] = (char) (0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char) (0xE0 | (cp >> 12));
    o[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char) (0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char) (0xF0 | (cp >> 18));
  o[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char) (0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the escapes of s[from..to) into out (which has to - from + 1
 * bytes: escapes never grow). Returns 0 or the diagnostic's code. */
static int unescape(jp *j, size_t from, size_t to, char *out, size_t *n) {
  const char *s = j->s;
  size_t k = from, o = 0;

  while (k < to) {
    unsigned cp, lo;
    if (s[k] != '\\') {
      out[o++] = s[k++];
      continue;
    }
    switch (s[k + 1]) {
    case '"': out[o++] = '"'; break;
    case '\\': out[o++] = '\\'; break;
    case '/': out[o++] = '/'; break;
    case 'b': out[o++] = '\b'; break;
    case 'f': out[o++] = '\f'; break;
    case 'n': out[o++] = '\n'; break;
    case 'r': out[o++] = '\r'; break;
    case 't': out[o++] = '\t'; break;
    case 'u':
      if (to - k < 6 || hex4(s + k + 2, &cp))
        return fail_at(j, k, "invalid \\u escape");
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail_at(j, k, "lone surrogate in \\u escape");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (to - k < 12 || s[k + 6] != '\\' || s[k + 7] != 'u' ||
            hex4(s + k + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
          return fail_at(j, k, "lone surrogate in \\u escape");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        k += 6;
      }
      if (cp == 0)
        return fail_at(j, k, "a string cannot hold a NUL character");
      o += put_utf8(out + o, cp);
      k += 6;
      continue;
    default:
      return fail_at(j, k, "invalid escape in string");
    }
    k += 2;
  }
  out[o] = '\0';
  *n = o;
  return 0;
}

/* At the opening quote. *out is cJSON_malloc'd. */
static int scan_string(jp *j, char **out, size_t *outlen) {
  const char *s = j->s;
  size_t open = j->i, k = j->i + 1, from = k, n;
  int esc = 0, rc;
  char *buf;

  for (;;) {
    unsigned char c;
    if (k >= j->len)
      return fail_at(j, open, "unterminated string");
    c = (unsigned char) s[k];
    if (c == '"')
      break;
    if (c == '\\') {
      esc = 1;
      k += 2;
      continue;
    }
    if (c < 0x20)
      return fail_at(j, k, c == '\n' ? "unterminated string"
                                     : "control character in string");
    if (c >= 0x80) {
      size_t w = sb__utf8_len((const unsigned char *) s + k, j->len - k,
                              NULL);
      if (!w)
        return fail_at(j, k, "invalid UTF-8 in string");
      j->cont += w - 1;
      k += w;
      continue;
    }
    k++;
  }
  n = k - from;
  buf = cJSON_malloc(n + 1);
  if (!buf)
    return SB_ENOMEM;
  if (!esc) {
    memcpy(buf, s + from, n);
    buf[n] = '\0';
  } else if ((rc = unescape(j, from, k, buf, &n))) {
    cJSON_free(buf);
    return rc;
  }
  j->i = k + 1;
  *out = buf;
  if (outlen)
    *outlen = n;
  return 0;
}

static cJSON *text_node(const char *s, size_t n) {
  char *p = cJSON_malloc(n + 1);

  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return sb__string_node(p);
}

/* A number token (grammar checked here); *node is NULL on ENOMEM. */
static int scan_number(jp *j, cJSON **node) {
  const char *s = j->s;
  size_t k = j->i, start = k, digits = 0, n;
  int isint = 1, neg = 0;

  *node = NULL;
  if (s[k] == '-') {
    neg = 1;
    k++;
  }
  if (k < j->len && s[k] == '0') {
    k++;
    digits = 1;
  } else {
    while (k < j->len && s[k] >= '0' && s[k] <= '9') {
      k++;
      digits++;
    }
    if (!digits)
      return fail_at(j, start, "invalid number");
  }
  if (k < j->len && s[k] == '.') {
    size_t f = 0;
    isint = 0;
    k++;
    while (k < j->len && s[k] >= '0' && s[k] <= '9') {
      k++;
      f++;
    }
    if (!f)
      return fail_at(j, start, "invalid number");
  }
  if (k < j->len && (s[k] == 'e' || s[k] == 'E')) {
    size_t e = 0;
    isint = 0;
    k++;
    if (k < j->len && (s[k] == '+' || s[k] == '-'))
      k++;
    while (k < j->len && s[k] >= '0' && s[k] <= '9') {
      k++;
      e++;
    }
    if (!e)
      return fail_at(j, start, "invalid number");
  }
  n = k - start;
  j->i = k;
  if (isint) {
    uint64_t v = 0;
    size_t d;
    for (d = start + (size_t) neg; d < k; d++) {
      v = v * 10 + (uint64_t) (s[d] - '0');
      if (v > (uint64_t) 1 << 53) {
        *node = text_node(s + start, n);  /* keep every digit */
        return 0;
      }
    }
    *node = cJSON_CreateNumber(neg ? (v ? -(double) v : 0.0) : (double) v);
    return 0;
  } else {
    char small[64], *buf = small;
    double dv;
    if (n >= sizeof(small) && !(buf = malloc(n + 1)))
      return SB_ENOMEM;
    memcpy(buf, s + start, n);
    buf[n] = '\0';
    errno = 0;
    dv = strtod(buf, NULL);
    if (buf != small)
      free(buf);
    if (errno == ERANGE && (dv > 1.0 || dv < -1.0))
      *node = text_node(s + start, n);
    else
      *node = cJSON_CreateNumber(dv);
    return 0;
  }
}

static int scan_value(jp *j) {
  const char *s = j->s;
  int line = j->line, col = col_now(j);
  size_t left = j->len - j->i;
  cJSON *node = NULL;
  char *str;
  int rc;

  switch (s[j->i]) {
  case '"':
    if ((rc = scan_string(j, &str, NULL)))
      return rc;
    node = sb__string_node(str);
    break;
  case 't':
    if (left < 4 || memcmp(s + j->i, "true", 4) != 0)
      return fail_at(j, j->i, "invalid literal");
    j->i += 4;
    node = cJSON_CreateTrue();
    break;
  case 'f':
    if (left < 5 || memcmp(s + j->i, "false", 5) != 0)
      return fail_at(j, j->i, "invalid literal");
    j->i += 5;
    node = cJSON_CreateFalse();
    break;
  case 'n':
    if (left < 4 || memcmp(s + j->i, "null", 4) != 0)
      return fail_at(j, j->i, "invalid literal");
    j->i += 4;
    node = cJSON_CreateNull();
    break;
  default:
    if (s[j->i] == '-' || (s[j->i] >= '0' && s[j->i] <= '9')) {
      if ((rc = scan_number(j, &node)))
        return rc;
      break;
    }
    if ((unsigned char) s[j->i] >= 0x20 && (unsigned char) s[j->i] < 0x7F)
      return sb__b_fail(j->b, SB_EPARSE, line, col,
                        "expected a value, found '%c'", s[j->i]);
    return sb__b_fail(j->b, SB_EPARSE, line, col, "expected a value");
  }
  return sb__b_value(j->b, node, line, col);
}

static int check_size(jp *j, size_t doc_off) {
  char sz[64];

  if (j->i - doc_off <= j->lim->max_doc_bytes)
    return 0;
  return sb__b_fail(j->b, SB_ELIMIT, j->line, col_now(j),
                    "document is larger than %s",
                    sb__size_text(j->lim->max_doc_bytes, sz, sizeof(sz)));
}

/* One top-level value; returns 0, an error, or the callback's value. */
static int scan_doc(jp *j) {
  size_t doc_off = j->i;
  int state = ST_VALUE, rc, line, col;
  char *key;
  size_t klen;

  if ((rc = sb__b_doc_start(j->b, j->line, col_now(j))))
    return rc;
  for (;;) {
    if ((rc = check_size(j, doc_off)))
      return rc;
    if (state == ST_AFTER && sb__b_depth(j->b) == 0) {
      rc = sb__b_doc_end(j->b);
      j->stopped = rc != 0;
      return rc;
    }
    skip_ws(j);
    if (j->i >= j->len)
      return sb__b_fail(j->b, SB_EPARSE, j->line, col_now(j),
                        "unexpected end of input");
    line = j->line;
    col = col_now(j);
    switch (state) {
    case ST_VALUE:
      if (j->s[j->i] == '{' || j->s[j->i] == '[') {
        int map = j->s[j->i] == '{';
        if ((rc = sb__b_open(j->b, map, line, col)))
          return rc;
        j->i++;
        state = map ? ST_OBJ_FIRST : ST_ARR_FIRST;
        break;
      }
      if ((rc = scan_value(j)))
        return rc;
      state = ST_AFTER;
      break;
    case ST_OBJ_FIRST:
    case ST_ARR_FIRST:
      if (j->s[j->i] == (state == ST_OBJ_FIRST ? '}' : ']')) {
        if ((rc = sb__b_close(j->b)))
          return rc;
        j->i++;
        state = ST_AFTER;
      } else {
        state = state == ST_OBJ_FIRST ? ST_KEY : ST_VALUE;
      }
      break;
    case ST_KEY:
      if (j->s[j->i] != '"')
        return sb__b_fail(j->b, SB_EPARSE, line, col,
                          "expected a string key");
      if ((rc = scan_string(j, &key, &klen)))
        return rc;
      rc = sb__b_key(j->b, key, klen, 0, line, col);
      cJSON_free(key);
      if (rc)
        return rc;
      skip_ws(j);
      if (j->i >= j->len || j->s[j->i] != ':')
        return sb__b_fail(j->b, SB_EPARSE, j->line, col_now(j),
                          "expected ':' after a key");
      j->i++;
      state = ST_VALUE;
      break;
    case ST_AFTER: {
      int map = sb__b_top_is_map(j->b);
      char c = j->s[j->i];
      if (c == ',') {
        j->i++;
        state = map ? ST_KEY : ST_VALUE;
      } else if (c == (map ? '}' : ']')) {
        if ((rc = sb__b_close(j->b)))
          return rc;
        j->i++;
      } else {
        return sb__b_fail(j->b, SB_EPARSE, line, col, "expected ',' or '%c'",
                          map ? '}' : ']');
      }
      break;
    }
    }
  }
}

/* After an error: on to the next line that starts with `{` or `[`. */
static int resync(jp *j) {
  while (j->i < j->len) {
    char c = j->s[j->i++];
    if (c != '\n' && (c != '\r' || (j->i < j->len && j->s[j->i] == '\n')))
      continue;
    j->line++;
    j->line_start = j->i;
    j->cont = 0;
    if (j->i < j->len && (j->s[j->i] == '{' || j->s[j->i] == '['))
      return 1;
  }
  return 0;
}

int sb__json_parse(sb__builder *b, const char *data, size_t len,
                   const sb_doc_limits *lim) {
  jp j;
  int first = 0, rc;

  memset(&j, 0, sizeof(j));
  j.b = b;
  j.lim = lim;
  j.s = data;
  j.len = len;
  j.line = 1;
  if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
    j.i = j.line_start = 3;
  for (;;) {
    skip_ws(&j);
    if (j.i >= j.len)
      break;
    rc = scan_doc(&j);
    if (rc == 0)
      continue;
    sb__b_abort(b);
    if (j.stopped || (rc != SB_EPARSE && rc != SB_ELIMIT))
      return rc;  /* the callback said stop, or out of memory */
    if (!first)
      first = rc;
    if (!resync(&j))
      break;
  }
  return first;
}
