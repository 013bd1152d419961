/* scalar.c -- what a plain YAML scalar means, and UTF-8 checking.
 *
 * One resolver serves both directions: the YAML reader types plain scalars
 * with it, and the YAML emitter asks it whether a string would come back as
 * something else if written plain (then it must be quoted). Keeping the two
 * in one function is what makes emit-then-parse return the same tree.
 *
 * The rules are the YAML 1.2 core schema (what Kubernetes' readers agree
 * on), matched exactly by hand instead of with regcomp (faster, and no
 * locale surprises):
 *   null   null Null NULL ~ (and the empty scalar)
 *   bool   true True TRUE false False FALSE
 *   int    [-+]?[0-9]+   0o[0-7]+   0x[0-9a-fA-F]+
 *   float  [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
 *          [-+]?\.(inf|Inf|INF)   \.(nan|NaN|NAN)
 * cJSON keeps numbers as doubles, so the resolver also says when a number
 * would not survive that: integers above 2^53 (SB__SC_BIGINT) and
 * infinities/NaN or overflowing literals (SB__SC_NONFIN). What the reader
 * does with those is its decision (doc.h: they stay strings).
 *
 * strtod is used for floats: it follows LC_NUMERIC, which smi-bridge never
 * changes from "C".
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc-int.h"

static int is_digit(int c) {
  return c >= '0' && c <= '9';
}

static int hex_val(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int word3(const char *s, size_t n, const char *lower,
                 const char *title, const char *upper) {
  size_t len = strlen(lower);

  if (n != len)
    return 0;
  return memcmp(s, lower, n) == 0 || memcmp(s, title, n) == 0 ||
         memcmp(s, upper, n) == 0;
}

/* Digits of one base; SB__SC_INT, SB__SC_BIGINT, or SB__SC_STRING when a
 * character does not belong. */
static sb__scalar int_digits(const char *s, size_t n, int base, int neg,
                             double *num) {
  uint64_t v = 0;
  int big = 0;
  size_t i;

  if (n == 0)
    return SB__SC_STRING;
  for (i = 0; i < n; i++) {
    int d = hex_val((unsigned char) s[i]);
    if (d < 0 || d >= base)
      return SB__SC_STRING;
    if (!big) {
      v = v * (uint64_t) base + (uint64_t) d;
      if (v > (uint64_t) 1 << 53)
        big = 1;
    }
  }
  if (big)
    return SB__SC_BIGINT;
  if (num)
    *num = neg ? -(double) v : (double) v;
  return SB__SC_INT;
}

/* [-+]? already consumed when p > s. Returns SB__SC_FLOAT/NONFIN or
 * SB__SC_STRING when the text is not a core-schema float. */
static sb__scalar float_text(const char *s, size_t n, const char *p,
                             double *num) {
  const char *end = s + n;
  size_t intd = 0, fracd = 0;
  double d;
  char *stop;

  while (p < end && is_digit(*p)) {
    p++;
    intd++;
  }
  if (p < end && *p == '.') {
    p++;
    while (p < end && is_digit(*p)) {
      p++;
      fracd++;
    }
    if (intd == 0 && fracd == 0)
      return SB__SC_STRING;
  } else if (intd == 0) {
    return SB__SC_STRING;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    size_t expd = 0;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    while (p < end && is_digit(*p)) {
      p++;
      expd++;
    }
    if (expd == 0)
      return SB__SC_STRING;
  }
  if (p != end)
    return SB__SC_STRING;
  errno = 0;
  d = strtod(s, &stop);
  if (stop != end)  /* cannot happen for text matching the grammar */
    return SB__SC_STRING;
  if (errno == ERANGE && (d > 1.0 || d < -1.0))
    return SB__SC_NONFIN;
  if (num)
    *num = d;
  return SB__SC_FLOAT;
}

sb__scalar sb__scalar_resolve(const char *s, size_t n, double *num) {
  const char *p = s;
  int neg = 0;

  if (n == 0)
    return SB__SC_NULL;
  switch (s[0]) {
  case '~':
    return n == 1 ? SB__SC_NULL : SB__SC_STRING;
  case 'n':
  case 'N':
    return word3(s, n, "null", "Null", "NULL") ? SB__SC_NULL : SB__SC_STRING;
  case 't':
  case 'T':
    return word3(s, n, "true", "True", "TRUE") ? SB__SC_TRUE : SB__SC_STRING;
  case 'f':
  case 'F':
    return word3(s, n, "false", "False", "FALSE") ? SB__SC_FALSE
                                                   : SB__SC_STRING;
  case '.':
    if (word3(s, n, ".inf", ".Inf", ".INF") ||
        word3(s, n, ".nan", ".NaN", ".NAN"))
      return SB__SC_NONFIN;
    return float_text(s, n, p, num);
  case '+':
  case '-':
    if (word3(s + 1, n - 1, ".inf", ".Inf", ".INF"))
      return SB__SC_NONFIN;
    neg = s[0] == '-';
    p++;
    break;
  default:
    if (!is_digit((unsigned char) s[0]))
      return SB__SC_STRING;
  }
  /* Unsigned-only forms. */
  if (!neg && p == s && n > 2 && s[0] == '0') {
    if (s[1] == 'o')
      return int_digits(s + 2, n - 2, 8, 0, num);
    if (s[1] == 'x')
      return int_digits(s + 2, n - 2, 16, 0, num);
  }
  {
    const char *q = p;
    while (q < s + n && is_digit((unsigned char) *q))
      q++;
    if (q == s + n && q > p) {
      sb__scalar t = int_digits(p, (size_t) (q - p), 10, neg, num);
      if (t == SB__SC_INT && num && neg && *num == 0)
        *num = 0;  /* "-0" is the integer 0, not -0.0 */
      return t;
    }
  }
  return float_text(s, n, p, num);
}

size_t sb__utf8_len(const unsigned char *s, size_t n, unsigned *cp) {
  unsigned c = s[0], v;
  size_t len, i;

  if (c < 0x80) {
    if (cp)
      *cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    v = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
      v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
    return 0;
  if (cp)
    *cp = v;
  return len;
}
