/* emit.c -- cJSON trees out as YAML (kubectl's block style) or JSON.
 *
 * A direct writer, not libyaml's emitter and not cJSON_Print: libyaml's
 * emitter knows nothing of core-schema typing (it would print the string
 * "100" plain, which reads back as a number), folds long lines at 80
 * columns and picks quote styles by its own rules; cJSON_Print indents with
 * tabs and prints numbers with %g's 15 digits, which loses precision. Both
 * outputs here are a handful of string copies per node into one sb_buf.
 *
 * YAML layout (fixed, so golden files can be diffed):
 *   key: scalar            maps: two more spaces per level
 *   key:                   sequences: `- ` at the key's indentation
 *   - item                 (what kubectl prints)
 *   - name: a              maps and sequences in a sequence start on the
 *     port: 80             `- ` line
 *   empty: {}              empty containers in flow style
 *   ? "a key longer than 1000 bytes once quoted"
 *   : value                (libyaml refuses implicit keys over 1024 chars)
 * Strings are plain unless sb_emit_yaml_needs_quotes says otherwise; then
 * they are double-quoted, with escapes for everything a YAML reader would
 * not keep verbatim (controls, C1, line/paragraph separators, BOM).
 * Strings are never folded or put in block style, so one scalar is one
 * line.
 *
 * Quoting is a deliberate superset of what sb_doc needs: besides what the
 * YAML 1.2 core schema would type (null, true, 100, 1e3, .inf ...), strings
 * that YAML 1.1 readers -- kubectl's go-yaml among them -- take for
 * something else are quoted too: yes/no/on/off/y/n, 0b101, 1_000, 0777,
 * 12:30:00, 2024-01-31, `<<`. Output meant for `kubectl apply -f -` must
 * not turn `value: "on"` into a boolean.
 *
 * Numbers: integral values up to 2^53 print as integers; anything else as
 * the shortest %g/%e text that reads back to the same double (integral
 * values above 2^53 always with an exponent, since sb_doc keeps integer
 * text above 2^53 as a string). NaN and infinities cannot be written as
 * JSON, and sb_doc never produces them: SB_EINVAL. Strings must be valid
 * UTF-8 (SB_EINVAL otherwise). Output is capped by the sb_buf's limit
 * (SB_ELIMIT) and nesting by MAX_DEPTH (recursion depth; sb_doc's default
 * limit is 64). After an error the buffer may hold part of the document.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc-int.h"
#include "sb/emit.h"
#include "sb/err.h"
#include "sb/hmap.h"

#define MAX_DEPTH 1000
/* Quoted keys longer than this use the explicit `? key` form. */
#define MAX_IMPLICIT_KEY 1000

static const char spaces[] = "                                        "
                             "                                        ";

static int put(sb_buf *o, const char *s, size_t n) {
  return sb_buf_add(o, s, n);
}

static int puts_(sb_buf *o, const char *s) {
  return sb_buf_add(o, s, strlen(s));
}

static int indent(sb_buf *o, unsigned n) {
  while (n > 0) {
    unsigned k = n < sizeof(spaces) - 1 ? n : (unsigned) sizeof(spaces) - 1;
    int rc = put(o, spaces, k);
    if (rc)
      return rc;
    n -= k;
  }
  return 0;
}

static int node_type(const cJSON *n) {
  return n->type & 0xFF;
}

/* ---- numbers ------------------------------------------------------------ */

/* Shortest text that strtod turns back into d; -1 for NaN/inf. */
static int fmt_number(double d, char *buf, size_t len) {
  int lo, hi, expo;

  if (!isfinite(d))
    return -1;
  if (d == floor(d) && fabs(d) <= SB__MAX_EXACT)
    return snprintf(buf, len, "%lld", (long long) d);
  /* Round-tripping is monotonic in the precision: binary search. */
  expo = d == floor(d);  /* integral above 2^53: force an exponent */
  lo = expo ? 0 : 1;
  hi = expo ? 16 : 17;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    snprintf(buf, len, expo ? "%.*e" : "%.*g", mid, d);
    if (strtod(buf, NULL) == d)
      hi = mid;
    else
      lo = mid + 1;
  }
  return snprintf(buf, len, expo ? "%.*e" : "%.*g", lo, d);
}

static int put_number(sb_buf *o, double d) {
  char buf[64];
  int n = fmt_number(d, buf, sizeof(buf));

  if (n < 0)
    return SB_EINVAL;
  return put(o, buf, (size_t) n);
}

/* ---- hashing ------------------------------------------------------------ */

/* Eight bytes at a time (every generated object is hashed on every
 * translation, so this is on the hot path of both the controller and
 * `translate`): multiply-xorshift per little-endian word, the piece's
 * length folded into its last word so boundaries count. Explicit byte
 * order keeps the value the same on every platform. */
#define HASH_K 0x9E3779B97F4A7C15ULL

/* The value is stored in every generated object in every cluster, so its
 * seed and finaliser are this file's own, not sb_hash's: the in-process
 * map's hash stays free to change. Changing anything here rewrites every
 * object once (test-emit pins a value). */
#define HASH_SEED 1469598103934665603ULL  /* FNV-1a's offset basis */

static uint64_t hash_final(uint64_t h) {  /* splitmix64's finaliser */
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

static uint64_t hash_word(uint64_t h, uint64_t w) {
  h = (h ^ w) * HASH_K;
  return h ^ (h >> 29);
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t w;

  while (n >= 8) {
    memcpy(&w, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    h = hash_word(h, w);
    s += 8;
    n -= 8;
  }
  /* The tail, little-endian, with the length on top. */
  w = (uint64_t) n << 56;
  switch (n) {
  case 7: w |= (uint64_t) s[6] << 48; /* fall through */
  case 6: w |= (uint64_t) s[5] << 40; /* fall through */
  case 5: w |= (uint64_t) s[4] << 32; /* fall through */
  case 4: w |= (uint64_t) s[3] << 24; /* fall through */
  case 3: w |= (uint64_t) s[2] << 16; /* fall through */
  case 2: w |= (uint64_t) s[1] << 8;  /* fall through */
  case 1: w |= (uint64_t) s[0];       /* fall through */
  default: break;
  }
  return hash_word(h, w);
}

/* Keys the translators add as constants (cJSON_StringIsConst: string
 * literals, so the pointer is the key) are hashed once per tree walk
 * session and remembered by address in a small direct-mapped table;
 * a key's digest then costs a lookup instead of strlen and a pass. */
#define KEY_MEMO 64

typedef struct key_memo {
  const char *k[KEY_MEMO];
  uint64_t d[KEY_MEMO];
} key_memo;

static uint64_t key_digest(key_memo *km, const cJSON *m) {
  const char *k = m->string;
  size_t slot;
  uint64_t d;

  if (!(m->type & cJSON_StringIsConst))
    return hash_bytes(0, k, strlen(k));
  slot = ((uintptr_t) k >> 3) % KEY_MEMO;
  if (km->k[slot] == k)
    return km->d[slot];
  d = hash_bytes(0, k, strlen(k));
  km->k[slot] = k;
  km->d[slot] = d;
  return d;
}

/* A tag per node keeps the encoding unambiguous ("a" then "b" is not
 * "ab"); keys and strings go in whole; containers end with a tag of their
 * own. Whole numbers go in as their value, others as fmt_number prints
 * them: either way 1, 1.0 and 1e0 are one number. */
static uint64_t hash_node(key_memo *km, uint64_t h, const cJSON *j,
                          int depth) {
  const cJSON *m;
  char buf[64];
  double d;
  int n, obj;

  switch (j->type & 0xFF) {
  case cJSON_String:
    h = hash_word(h, 's');
    return j->valuestring
               ? hash_bytes(h, j->valuestring, strlen(j->valuestring))
               : h;
  case cJSON_Number:
    d = j->valuedouble;
    if (d == floor(d) && fabs(d) <= SB__MAX_EXACT)
      return hash_word(hash_word(h, 'i'), (uint64_t) (int64_t) d);
    n = fmt_number(d, buf, sizeof(buf));
    h = hash_word(h, 'n');
    return n > 0 ? hash_bytes(h, buf, (size_t) n) : h;
  case cJSON_True:
    return hash_word(h, 't');
  case cJSON_False:
    return hash_word(h, 'f');
  case cJSON_NULL:
    return hash_word(h, 'z');
  case cJSON_Object:
  case cJSON_Array:
    obj = (j->type & 0xFF) == cJSON_Object;
    h = hash_word(h, obj ? '{' : '[');
    if (depth < MAX_DEPTH) {
      for (m = j->child; m; m = m->next) {
        if (obj && m->string)
          h = hash_word(hash_word(h, 'k'), key_digest(km, m));
        h = hash_node(km, h, m, depth + 1);
      }
    }
    return hash_word(h, '}');
  default:
    return hash_word(h, '?');
  }
}

uint64_t sb_emit_hash(const cJSON *obj) {
  key_memo km;

  if (!obj)
    return 0;
  memset(km.k, 0, sizeof(km.k));
  return hash_final(hash_node(&km, HASH_SEED, obj, 0));
}

/* ---- quoting ------------------------------------------------------------ */

/* Code points a YAML reader would not keep verbatim inside a scalar. */
static int special_cp(unsigned cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF;
}

static int is_digit(int c) {
  return c >= '0' && c <= '9';
}

static int is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int word_in(const char *s, size_t n, const char *const *list) {
  for (; *list; list++)
    if (strlen(*list) == n && memcmp(s, *list, n) == 0)
      return 1;
  return 0;
}

static int all_of(const char *s, size_t n, const char *set) {
  size_t i, digits = 0;

  for (i = 0; i < n; i++) {
    if (!strchr(set, s[i]))
      return 0;
    if (s[i] != '_')
      digits++;
  }
  return digits > 0;
}

/* YAML 1.1 / Go numbers: [0-9_]+ (:[0-9_]+)* (.[0-9_]*)? ([eE][-+]?[0-9]+)?
 * with at least one digit -- 1_000, 0777, 190:20:30, 1., 1.5e3. */
static int decimal11(const char *p, size_t m) {
  const char *end = p + m;
  int digits = 0;

  while (p < end && (is_digit((unsigned char) *p) || *p == '_' ||
                     (*p == ':' && digits)))
    digits += is_digit((unsigned char) *p++);
  if (p < end && *p == '.') {
    p++;
    while (p < end && (is_digit((unsigned char) *p) || *p == '_'))
      digits += is_digit((unsigned char) *p++);
  }
  if (!digits)
    return 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    int ed = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    while (p < end && is_digit((unsigned char) *p)) {
      p++;
      ed++;
    }
    if (!ed)
      return 0;
  }
  return p == end;
}

/* Would a YAML 1.1 reader (go-yaml v2, PyYAML) read s as a non-string?
 * A superset is fine (it only adds quotes); missing a case is not. */
static int yaml11_special(const char *s, size_t n) {
  static const char *const words[] = {
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On",
    "ON", "off", "Off", "OFF", "<<", "=", NULL
  };
  const char *p = s;
  size_t m = n;

  if (word_in(s, n, words))
    return 1;
  if (n >= 8 && is_digit((unsigned char) s[0]) &&
      is_digit((unsigned char) s[1]) && is_digit((unsigned char) s[2]) &&
      is_digit((unsigned char) s[3]) && s[4] == '-' &&
      is_digit((unsigned char) s[5]))
    return 1;  /* timestamp: 2001-12-14, 2001-12-14T21:59:43Z ... */
  if (m > 0 && (*p == '+' || *p == '-')) {
    p++;
    m--;
  }
  if (m == 0)
    return 0;
  if ((m == 3 || m == 8) && (strncasecmp(p, "inf", m) == 0 ||
                             strncasecmp(p, "infinity", m) == 0 ||
                             strncasecmp(p, "nan", m) == 0))
    return p != s;  /* Go reads "+inf"; a bare "inf" stays a string */
  if (m > 2 && p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
    return all_of(p + 2, m - 2, "01_");
  if (m > 2 && p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
    return all_of(p + 2, m - 2, "01234567_");
  if (m > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    return all_of(p + 2, m - 2, "0123456789abcdefABCDEF_.pP+-");
  return decimal11(p, m);
}

/* Is s safe as a plain scalar (block context, key or value)? */
/* The common case, decided without the resolvers: a word of six or more
 * bytes that starts with a letter and holds only letters, digits and
 * "-_./" ("metadata", "web-v1", "networking.istio.io/v1") resolves to a
 * string in YAML 1.2 and 1.1 alike -- every word that does not (null,
 * true, false, yes, off, ...) is five bytes or shorter -- and contains
 * nothing a plain scalar must avoid. */
static int plain_word(const char *s, size_t n) {
  size_t i;

  if (n < 6 || !is_alpha((unsigned char) s[0]))
    return 0;
  for (i = 1; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_' && c != '.' &&
        c != '/')
      return 0;
  }
  return 1;
}

static int plain_ok(const char *s, size_t n) {
  size_t i;

  if (plain_word(s, n))
    return 1;
  if (n == 0 || sb__scalar_resolve(s, n, NULL) != SB__SC_STRING ||
      yaml11_special(s, n))
    return 0;
  switch (s[0]) {
  case '-':
    if (n == 1 || s[1] == ' ')
      return 0;
    break;
  case '?': case ':': case ',': case '[': case ']': case '{': case '}':
  case '#': case '&': case '*': case '!': case '|': case '>': case '\'':
  case '"': case '%': case '@': case '`': case ' ':
    return 0;
  default:
    break;
  }
  if (n >= 3 && (memcmp(s, "---", 3) == 0 || memcmp(s, "...", 3) == 0))
    return 0;
  if (s[n - 1] == ' ' || s[n - 1] == ':')
    return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c < 0x20 || c == 0x7F)
      return 0;
    if (c == ':' && s[i + 1] == ' ')
      return 0;
    if (c == '#' && s[i - 1] == ' ')  /* i > 0: s[0] is not '#' */
      return 0;
    if (c >= 0x80) {
      unsigned cp;
      size_t w = sb__utf8_len((const unsigned char *) s + i, n - i, &cp);
      if (!w || special_cp(cp))
        return 0;
      i += w - 1;
    }
  }
  return 1;
}

int sb_emit_yaml_needs_quotes(const char *s) {
  return !s || !plain_ok(s, strlen(s));
}

/* Writes s[0..n) quoted and escaped; json selects JSON escapes, else
 * YAML's. With o NULL only adds the length it would write to *count. */
static int put_escaped(sb_buf *o, const char *s, size_t n, int json,
                       size_t *count) {
  size_t i = 0, run = 0, total = 2;
  char esc[16];
  int rc;

  if (o && (rc = put(o, "\"", 1)))
    return rc;
  while (i < n) {
    unsigned char c = (unsigned char) s[i];
    unsigned cp = c;
    size_t w = 1;
    const char *e = NULL;

    if (c >= 0x80) {
      w = sb__utf8_len((const unsigned char *) s + i, n - i, &cp);
      if (!w)
        return SB_EINVAL;
    }
    switch (cp) {
    case '"': e = "\\\""; break;
    case '\\': e = "\\\\"; break;
    case '\n': e = "\\n"; break;
    case '\t': e = "\\t"; break;
    case '\r': e = "\\r"; break;
    case '\b': if (json) e = "\\b"; break;
    case '\f': if (json) e = "\\f"; break;
    default: break;
    }
    if (!e && (cp < 0x20 || cp == 0x7F || special_cp(cp))) {
      if (!json && cp == 0x2028)
        e = "\\L";
      else if (!json && cp == 0x2029)
        e = "\\P";
      else if (!json && cp <= 0xFF)
        snprintf(esc, sizeof(esc), "\\x%02X", cp);
      else
        snprintf(esc, sizeof(esc), "\\u%04X", cp);
      if (!e)
        e = esc;
    }
    if (!e) {
      i += w;
      run += w;
      continue;
    }
    total += run + strlen(e);
    if (o && ((run && (rc = put(o, s + i - run, run))) ||
              (rc = puts_(o, e))))
      return rc;
    run = 0;
    i += w;
  }
  total += run;
  if (!o) {
    *count += total;
    return 0;
  }
  if (run && (rc = put(o, s + n - run, run)))
    return rc;
  return put(o, "\"", 1);
}

static int put_yaml_string(sb_buf *o, const char *s) {
  size_t n = strlen(s);

  if (plain_ok(s, n))
    return put(o, s, n);
  return put_escaped(o, s, n, 0, NULL);
}

/* ---- YAML --------------------------------------------------------------- */

static int is_container(const cJSON *n) {
  return node_type(n) == cJSON_Object || node_type(n) == cJSON_Array;
}

/* Scalars and empty containers: what fits after `key: ` or `- `. */
static int y_inline(sb_buf *o, const cJSON *n) {
  switch (node_type(n)) {
  case cJSON_NULL: return put(o, "null", 4);
  case cJSON_False: return put(o, "false", 5);
  case cJSON_True: return put(o, "true", 4);
  case cJSON_Number: return put_number(o, n->valuedouble);
  case cJSON_String:
    return n->valuestring ? put_yaml_string(o, n->valuestring) : SB_EINVAL;
  case cJSON_Object: return put(o, "{}", 2);
  case cJSON_Array: return put(o, "[]", 2);
  default: return SB_EINVAL;
  }
}

static int y_map(sb_buf *o, sb_emit_memo *mm, const cJSON *n, unsigned ind,
                 int first_inline, unsigned depth);
static int y_seq(sb_buf *o, sb_emit_memo *mm, const cJSON *n, unsigned ind,
                 int first_inline, unsigned depth);

/* After `key:` (or an explicit `:`): the value and its line break. */
static int y_member_value(sb_buf *o, sb_emit_memo *mm, const cJSON *v,
                          unsigned ind, unsigned depth) {
  int rc;

  if (!is_container(v) || !v->child) {
    if ((rc = put(o, " ", 1)) || (rc = y_inline(o, v)))
      return rc;
    return put(o, "\n", 1);
  }
  if ((rc = put(o, "\n", 1)))
    return rc;
  if (node_type(v) == cJSON_Object)
    return y_map(o, mm, v, ind + 2, 0, depth + 1);
  return y_seq(o, mm, v, ind, 0, depth + 1);
}

/* The memo: generated objects repeat the same few keys in every object,
 * and translate adds them as program literals (cJSON_StringIsConst), whose
 * text never changes. A small direct-mapped table of such keys found
 * plain, chosen by address; a hit is confirmed on the text kept in the
 * slot, so a reused address can only miss. Parsed documents' keys are not
 * marked constant and take the full check. */
#define MEMO_SLOTS 256
#define MEMO_LEN 31

struct sb_emit_memo {
  struct {
    const char *k;
    size_t n;
    char text[MEMO_LEN + 1];
  } slot[MEMO_SLOTS];
};

sb_emit_memo *sb_emit_memo_new(void) {
  return calloc(1, sizeof(sb_emit_memo));
}

void sb_emit_memo_free(sb_emit_memo *mm) {
  free(mm);
}

static size_t memo_slot(const char *k) {
  uintptr_t a = (uintptr_t) k;
  return (size_t) ((a >> 3) ^ (a >> 11)) % MEMO_SLOTS;
}

static int y_key(sb_buf *o, sb_emit_memo *mm, const char *k, int literal,
                 unsigned ind) {
  size_t n, width, at = 0;
  int plain, rc;

  if (mm && literal) {
    at = memo_slot(k);
    n = mm->slot[at].n;
    /* strncmp, not memcmp: the text at k may now be shorter than the
     * text kept, and must not be read past its end. */
    if (mm->slot[at].k == k &&
        strncmp(k, mm->slot[at].text, n + 1) == 0) {
      rc = put(o, k, n);
      return rc ? rc : put(o, ":", 1);
    }
  }
  n = strlen(k);
  width = n;
  plain = plain_ok(k, n);
  if (mm && literal && plain && n <= MEMO_LEN) {
    mm->slot[at].k = k;
    mm->slot[at].n = n;
    memcpy(mm->slot[at].text, k, n + 1);
  }

  /* An escape is at most 6 bytes ("\uFFFE"), so short keys need no count. */
  if (!plain && n * 6 + 2 > MAX_IMPLICIT_KEY) {
    width = 0;
    if ((rc = put_escaped(NULL, k, n, 0, &width)))
      return rc;
  }
  if (width <= MAX_IMPLICIT_KEY) {
    rc = plain ? put(o, k, n) : put_escaped(o, k, n, 0, NULL);
    return rc ? rc : put(o, ":", 1);
  }
  /* Rare: libyaml refuses implicit keys longer than 1024 characters. */
  if ((rc = put(o, "? ", 2)) || (rc = put_yaml_string(o, k)) ||
      (rc = put(o, "\n", 1)) || (rc = indent(o, ind)))
    return rc;
  return put(o, ":", 1);
}

static int y_map(sb_buf *o, sb_emit_memo *mm, const cJSON *n, unsigned ind,
                 int first_inline, unsigned depth) {
  const cJSON *m;
  int rc;

  if (depth > MAX_DEPTH)
    return SB_ELIMIT;
  for (m = n->child; m; m = m->next) {
    if (!m->string)
      return SB_EINVAL;
    if ((m != n->child || !first_inline) && (rc = indent(o, ind)))
      return rc;
    if ((rc = y_key(o, mm, m->string, (m->type & cJSON_StringIsConst) != 0,
                    ind)) ||
        (rc = y_member_value(o, mm, m, ind, depth)))
      return rc;
  }
  return 0;
}

static int y_seq(sb_buf *o, sb_emit_memo *mm, const cJSON *n, unsigned ind,
                 int first_inline, unsigned depth) {
  const cJSON *m;
  int rc;

  if (depth > MAX_DEPTH)
    return SB_ELIMIT;
  for (m = n->child; m; m = m->next) {
    if ((m != n->child || !first_inline) && (rc = indent(o, ind)))
      return rc;
    if ((rc = put(o, "- ", 2)))
      return rc;
    if (!is_container(m) || !m->child) {
      if ((rc = y_inline(o, m)) || (rc = put(o, "\n", 1)))
        return rc;
    } else if (node_type(m) == cJSON_Object) {
      if ((rc = y_map(o, mm, m, ind + 2, 1, depth + 1)))
        return rc;
    } else if ((rc = y_seq(o, mm, m, ind + 2, 1, depth + 1))) {
      return rc;
    }
  }
  return 0;
}

int sb_emit_yaml(const cJSON *obj, sb_buf *out) {
  return sb_emit_yaml_memo(obj, out, NULL);
}

int sb_emit_yaml_memo(const cJSON *obj, sb_buf *out, sb_emit_memo *mm) {
  int rc;

  if (!obj || !out)
    return SB_EINVAL;
  if (!is_container(obj) || !obj->child) {
    if (!(rc = y_inline(out, obj)))
      rc = put(out, "\n", 1);
  } else if (node_type(obj) == cJSON_Object) {
    rc = y_map(out, mm, obj, 0, 0, 1);
  } else {
    rc = y_seq(out, mm, obj, 0, 0, 1);
  }
  return rc;
}

/* ---- JSON --------------------------------------------------------------- */

static int j_node(sb_buf *o, const cJSON *n, unsigned ind, int pretty,
                  unsigned depth) {
  const cJSON *m;
  int rc, obj;

  switch (node_type(n)) {
  case cJSON_NULL: return put(o, "null", 4);
  case cJSON_False: return put(o, "false", 5);
  case cJSON_True: return put(o, "true", 4);
  case cJSON_Number: return put_number(o, n->valuedouble);
  case cJSON_String:
    if (!n->valuestring)
      return SB_EINVAL;
    return put_escaped(o, n->valuestring, strlen(n->valuestring), 1, NULL);
  case cJSON_Object:
  case cJSON_Array:
    break;
  default:
    return SB_EINVAL;
  }
  if (depth > MAX_DEPTH)
    return SB_ELIMIT;
  obj = node_type(n) == cJSON_Object;
  if (!n->child)
    return put(o, obj ? "{}" : "[]", 2);
  if ((rc = put(o, obj ? "{" : "[", 1)))
    return rc;
  for (m = n->child; m; m = m->next) {
    if (pretty && ((rc = put(o, "\n", 1)) || (rc = indent(o, ind + 2))))
      return rc;
    if (obj) {
      if (!m->string)
        return SB_EINVAL;
      if ((rc = put_escaped(o, m->string, strlen(m->string), 1, NULL)) ||
          (rc = put(o, ": ", pretty ? 2 : 1)))
        return rc;
    }
    if ((rc = j_node(o, m, ind + 2, pretty, depth + 1)))
      return rc;
    if (m->next && (rc = put(o, ",", 1)))
      return rc;
  }
  if (pretty && ((rc = put(o, "\n", 1)) || (rc = indent(o, ind))))
    return rc;
  return put(o, obj ? "}" : "]", 1);
}

int sb_emit_json(const cJSON *obj, sb_buf *out, int pretty) {
  int rc;

  if (!obj || !out)
    return SB_EINVAL;
  rc = j_node(out, obj, 0, pretty, 1);
  if (!rc && pretty)
    rc = put(out, "\n", 1);
  return rc;
}
