/* regex.c -- is a pathRegex / header regex something every mesh accepts?
 *
 * SMI does not name a regex dialect. The regexes end up in Istio (Envoy's
 * RE2), Gateway API implementations (Go's regexp, which is RE2 syntax) and
 * Linkerd (Rust's regex crate). Checking with POSIX regcomp() would reject
 * what users of those systems write every day ((?:...), \d, (?i)) and
 * accept what none of them can run (backreferences). So this is a small
 * syntax checker for the subset the three share:
 *
 *   accepted: literals, ., ^ $, [...] with ranges and [:alpha:], groups
 *     (...) (?:...) (?P<n>...) (?<n>...), flags (?imsU) (?i:...),
 *     * + ? {n} {n,} {n,m} (n, m <= 1000) and their lazy forms, escapes
 *     \d \D \s \S \w \W \b \B \A \z \pL \p{Greek} \x41 \x{263a}
 *     \a \f \t \n \r \v and any escaped punctuation;
 *   refused, with the reason: backreferences and octal escapes, lookahead
 *     and lookbehind, \Q..\E and other escapes not in all three, a
 *     quantifier with nothing to repeat or on another quantifier, a bare
 *     '{' (RE2 reads "/users/{id}" as literal text, Rust refuses it, and it
 *     is almost always a path template by mistake), unbalanced brackets,
 *     reversed ranges.
 *
 * It checks syntax only; whether a match means what the user wanted is
 * for the translator (which anchors and wraps the regex) to decide.
 */
#include "parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_REPEAT 1000

typedef struct check {
  const char *re;
  char *why;
  size_t n;
} check;

static int fail(check *k, size_t at, const char *fmt, ...) SB_PRINTF(3, 4);

static int fail(check *k, size_t at, const char *fmt, ...) {
  va_list ap;
  size_t len;

  va_start(ap, fmt);
  vsnprintf(k->why, k->n, fmt, ap);
  va_end(ap);
  len = strlen(k->why);
  if (len < k->n)
    snprintf(k->why + len, k->n - len, " at offset %zu", at);
  return -1;
}

static int is_hex(char ch) {
  return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
         (ch >= 'A' && ch <= 'F');
}

static int hex_val(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  return (ch | 0x20) - 'a' + 10;
}

static int is_alpha(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_word(char ch) {
  return is_alpha(ch) || (ch >= '0' && ch <= '9') || ch == '_';
}

/* The escape starting at re[i] == '\\'. Returns its length, or -1 (with
 * k->why set). *cp gets the character it stands for, or -1 when it is not
 * a single character (\d, \pL, \b ...); *width is 0 for assertions. */
static long escape(check *k, size_t i, int in_class, long *cp, int *width) {
  const char *re = k->re;
  char ch = re[i + 1];
  size_t j;
  long v;

  *cp = -1;
  *width = 1;
  if (!ch)
    return fail(k, i, "trailing backslash");
  if (ch >= '1' && ch <= '9')
    return fail(k, i, "backreferences such as \\%c are not supported", ch);
  if (ch == '0')
    return fail(k, i, "octal escapes are not supported; use \\x{...}");
  switch (ch) {
  case 'a': *cp = 7; return 2;
  case 'f': *cp = 12; return 2;
  case 't': *cp = 9; return 2;
  case 'n': *cp = 10; return 2;
  case 'r': *cp = 13; return 2;
  case 'v': *cp = 11; return 2;
  case 'd': case 'D': case 's': case 'S': case 'w': case 'W':
    return 2;
  case 'b': case 'B': case 'A': case 'z':
    if (in_class)
      return fail(k, i, "\\%c is not allowed in a character class", ch);
    *width = 0;
    return 2;
  case 'p': case 'P':
    if (is_alpha(re[i + 2]))
      return 3;
    if (re[i + 2] == '{') {
      for (j = i + 3; is_word(re[j]) || re[j] == '^' || re[j] == '='; j++)
        ;
      if (re[j] == '}' && j > i + 3)
        return (long) (j - i + 1);
    }
    return fail(k, i, "invalid Unicode class \\%c", ch);
  case 'x':
    if (re[i + 2] == '{') {
      v = 0;
      for (j = i + 3; is_hex(re[j]) && j < i + 11; j++)
        v = v * 16 + hex_val(re[j]);
      if (re[j] == '}' && j > i + 3 && v <= 0x10FFFF) {
        *cp = v;
        return (long) (j - i + 1);
      }
    } else if (is_hex(re[i + 2]) && is_hex(re[i + 3])) {
      *cp = hex_val(re[i + 2]) * 16 + hex_val(re[i + 3]);
      return 4;
    }
    return fail(k, i, "invalid \\x escape; use \\xHH or \\x{HHHH}");
  default:
    break;
  }
  if (is_word(ch))
    return fail(k, i, "unknown escape \\%c", ch);
  if ((unsigned char) ch < 0x21 || (unsigned char) ch > 0x7e)
    return fail(k, i, "invalid escape");
  *cp = (unsigned char) ch;
  return 2;
}

/* One UTF-8 character at s: its code point and length (a stray byte
 * counts as itself; the checker does not police encodings). */
static long utf8(const char *s, long *cp) {
  const unsigned char *u = (const unsigned char *) s;
  int n, i;
  long v;

  if (u[0] < 0x80) {
    *cp = u[0];
    return 1;
  }
  n = u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc0 ? 2 : 1;
  v = n == 4 ? (u[0] & 7) : n == 3 ? (u[0] & 15) : n == 2 ? (u[0] & 31)
                                                          : u[0];
  for (i = 1; i < n; i++) {
    if ((u[i] & 0xc0) != 0x80) {
      *cp = u[0];
      return 1;
    }
    v = (v << 6) | (u[i] & 0x3f);
  }
  *cp = v;
  return n;
}

static const char *const posix_classes[] = {
  "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
  "lower", "print", "punct", "space", "upper", "word", "xdigit",
};

/* "[:name:]" at re[j]; returns its length, 0 when it is not one (then the
 * '[' is an ordinary character), -1 for an unknown name. */
static long posix_class(check *k, size_t j) {
  const char *re = k->re, *end, *name = re + j + 2;
  size_t i, len;

  if (*name == '^')
    name++;
  end = strstr(name, ":]");
  if (!end)
    return 0;
  len = (size_t) (end - name);
  for (i = 0; i < SB_ARRAY_SIZE(posix_classes); i++)
    if (strlen(posix_classes[i]) == len &&
        memcmp(posix_classes[i], name, len) == 0)
      return (long) (end + 2 - (re + j));
  return fail(k, j, "unknown character class [:%.*s:]", (int) len, name);
}

/* One member of a class at re[j]: its length and code point (-1 if it is
 * a class such as \d or [:digit:]). */
static long class_atom(check *k, size_t j, long *cp) {
  long len;
  int width;

  if (k->re[j] == '\\')
    return escape(k, j, 1, cp, &width);
  if (k->re[j] == '[' && k->re[j + 1] == ':') {
    len = posix_class(k, j);
    if (len != 0) {
      *cp = -1;
      return len;
    }
  }
  return utf8(k->re + j, cp);
}

/* The class starting at re[i] == '['; returns its length or -1. */
static long char_class(check *k, size_t i) {
  const char *re = k->re;
  size_t j = i + 1, a;
  long len, lo, hi;

  if (re[j] == '^')
    j++;
  if (re[j] == ']')
    j++;  /* a leading ']' is a member */
  while (re[j] != ']') {
    if (!re[j])
      return fail(k, i, "missing ']'");
    a = j;
    len = class_atom(k, j, &lo);
    if (len < 0)
      return -1;
    j += (size_t) len;
    if (re[j] != '-' || re[j + 1] == ']' || !re[j + 1])
      continue;
    len = class_atom(k, j + 1, &hi);
    if (len < 0)
      return -1;
    if (lo < 0 || hi < 0)
      return fail(k, j, "invalid range: an end is a class, not a character");
    if (lo > hi)
      return fail(k, a, "invalid range %.*s", (int) (j + 1 + len - a),
                  re + a);
    j += 1 + (size_t) len;
  }
  return (long) (j - i + 1);
}

/* "{n}", "{n,}" or "{n,m}" at re[i]; returns its length, 0 when it is not
 * one, -1 for bad bounds. */
static long braces(check *k, size_t i) {
  const char *re = k->re;
  size_t j = i + 1;
  long lo = 0, hi = -1;

  if (re[j] < '0' || re[j] > '9')
    return 0;
  for (; re[j] >= '0' && re[j] <= '9'; j++)
    if (lo <= MAX_REPEAT)
      lo = lo * 10 + (re[j] - '0');
  if (re[j] == ',') {
    j++;
    if (re[j] >= '0' && re[j] <= '9')
      for (hi = 0; re[j] >= '0' && re[j] <= '9'; j++)
        if (hi <= MAX_REPEAT)
          hi = hi * 10 + (re[j] - '0');
  } else {
    hi = lo;
  }
  if (re[j] != '}')
    return 0;
  if (lo > MAX_REPEAT || hi > MAX_REPEAT)
    return fail(k, i, "repeat count above %d", MAX_REPEAT);
  if (hi >= 0 && hi < lo)
    return fail(k, i, "invalid repeat {%ld,%ld}: the minimum is larger",
                lo, hi);
  return (long) (j - i + 1);
}

/* "(?..." at re[i]: returns its length and whether it opens a group. */
static long group_open(check *k, size_t i, int *opens) {
  const char *re = k->re;
  size_t j;

  *opens = 1;
  if (re[i + 1] != '?')
    return 1;
  switch (re[i + 2]) {
  case ':':
    return 3;
  case '=': case '!':
    return fail(k, i, "lookahead (?%c...) is not supported", re[i + 2]);
  case 'P':
  case '<':
    j = i + (re[i + 2] == 'P' ? 3 : 2);
    if (re[j] != '<') {
      if (re[i + 2] == 'P' && re[j] == '=')
        return fail(k, i, "backreferences such as (?P=name) are not "
                          "supported");
      break;
    }
    if (re[j + 1] == '=' || re[j + 1] == '!')
      return fail(k, i, "lookbehind (?<%c...) is not supported", re[j + 1]);
    for (j++; is_word(re[j]); j++)
      ;
    if (re[j] != '>' || re[j - 1] == '<')
      return fail(k, i, "invalid group name");
    return (long) (j - i + 1);
  default:
    break;
  }
  /* Flags: (?i) sets them for the rest of the group, (?i:...) opens one. */
  for (j = i + 2; re[j] && strchr("imsU-", re[j]); j++)
    ;
  if (j > i + 2 && (re[j] == ')' || re[j] == ':') && re[j - 1] != '-') {
    *opens = re[j] == ':';
    return (long) (j - i + 1);
  }
  return fail(k, i, "unsupported group syntax (?%c", re[i + 2] ? re[i + 2]
                                                                 : ' ');
}

int sb__regex_check(const char *re, char *why, size_t n) {
  check k = { re, why, n };
  size_t i = 0, depth = 0;
  int can_repeat = 0, repeated = 0, opens, width;
  long len, cp;

  if (n)
    why[0] = '\0';
  while (re[i]) {
    char ch = re[i];

    if (ch == '*' || ch == '+' || ch == '?' || ch == '{') {
      len = 1;
      if (ch == '{') {
        len = braces(&k, i);
        if (len < 0)
          return -1;
        if (len == 0)
          return fail(&k, i, "'{' must start a repeat such as {2} or "
                             "{1,3}; write \\{ for a literal brace");
      }
      if (repeated)
        return fail(&k, i, "a repeat of a repeat (\"%.*s\") is not allowed",
                    (int) (i + (size_t) len - (i - 1)), re + i - 1);
      if (!can_repeat)
        return fail(&k, i, "'%c' has nothing to repeat", ch);
      i += (size_t) len;
      if (re[i] == '?')
        i++;  /* lazy */
      can_repeat = 0;
      repeated = 1;
      continue;
    }
    repeated = 0;
    switch (ch) {
    case '\\':
      len = escape(&k, i, 0, &cp, &width);
      if (len < 0)
        return -1;
      can_repeat = width;
      break;
    case '[':
      len = char_class(&k, i);
      if (len < 0)
        return -1;
      can_repeat = 1;
      break;
    case '(':
      len = group_open(&k, i, &opens);
      if (len < 0)
        return -1;
      depth += (size_t) opens;
      can_repeat = 0;
      break;
    case ')':
      if (depth == 0)
        return fail(&k, i, "unmatched ')'");
      depth--;
      len = 1;
      can_repeat = 1;
      break;
    case '|':
    case '^':
    case '$':
      len = 1;
      can_repeat = 0;
      break;
    default:
      len = utf8(re + i, &cp);
      can_repeat = 1;
      break;
    }
    i += (size_t) len;
  }
  if (depth)
    return fail(&k, i, "missing ')'");
  return 0;
}
