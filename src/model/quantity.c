/* quantity.c -- Kubernetes resource quantities as exact milli-units.
 *
 * TrafficSplit v1alpha1 weights are resource.Quantity values ("1" is
 * 1000m, "500m" is half of it), and smi-bridge reads quantities in every
 * version (docs/mapping.md, "Weights"). A quantity is decimal, so it is
 * read as digits and a power of ten -- never through a double, which
 * would turn "0.1" into something that is not exactly 100m. The result
 * is exact or an error: a value finer than 1m ("1u", "0.0001") is refused
 * rather than rounded, because a silently rounded weight changes the
 * split the user asked for.
 *
 * Grammar (k8s.io/apimachinery resource.Quantity):
 *   [+-] ( digits [ "." [digits] ] | "." digits ) [ suffix ]
 *   suffix: n u m "" k M G T P E | Ki Mi Gi Ti Pi Ei | (e|E) [+-] digits
 */
#include "parse.h"

#include <stdio.h>
#include <string.h>

/* More significant digits than any value up to 2^64 milli-units has. */
#define MAX_DIGITS 40

static int is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

/* The suffix at s: power of ten (*exp10) and/or of 1024 (*exp1024).
 * Returns 0, or -1 when s is not a suffix. */
static int parse_suffix(const char *s, int *exp10, int *exp1024) {
  static const char decimal[] = "num kMGTPE";  /* ' ' marks no suffix */
  static const char binary[] = "KMGTPE";
  const char *p;
  long e = 0;
  int neg = 0;

  *exp10 = 0;
  *exp1024 = 0;
  if (!*s)
    return 0;
  /* "e"/"E" followed by a number is an exponent; a bare "E" is exa. */
  if ((s[0] == 'e' || s[0] == 'E') &&
      (is_digit(s[1]) ||
       ((s[1] == '+' || s[1] == '-') && is_digit(s[2])))) {
    s++;
    if (*s == '+' || *s == '-')
      neg = *s++ == '-';
    for (; is_digit(*s); s++)
      if (e < 100000)
        e = e * 10 + (*s - '0');
    if (*s)
      return -1;
    *exp10 = (int) (neg ? -e : e);
    return 0;
  }
  if (s[1] == 'i' && !s[2]) {
    p = strchr(binary, s[0]);
    if (!p)
      return -1;
    *exp1024 = (int) (p - binary) + 1;
    return 0;
  }
  if (s[1] || s[0] == ' ')
    return -1;
  p = strchr(decimal, s[0]);
  if (!p)
    return -1;
  *exp10 = ((int) (p - decimal) - 3) * 3;
  return 0;
}

/* v * m, refusing overflow of uint64. */
static int mul_ok(uint64_t *v, uint64_t m) {
  if (m != 0 && *v > UINT64_MAX / m)
    return 0;
  *v *= m;
  return 1;
}

sb__qerr sb__quantity_milli(const char *s, int64_t max_milli, int64_t *out) {
  char dig[MAX_DIGITS];
  size_t nd = 0, i, ndigits = 0;
  int neg = 0, exp10 = 0, sexp10, exp1024, in_frac = 0, lost = 0, shift;
  uint64_t v = 0, p5;

  *out = 0;
  if (*s == '+' || *s == '-')
    neg = *s++ == '-';
  /* Digits, leading zeros dropped, the decimal point folded into exp10. */
  for (;; s++) {
    if (*s == '.' && !in_frac) {
      in_frac = 1;
      continue;
    }
    if (!is_digit(*s))
      break;
    ndigits++;
    if (in_frac)
      exp10--;
    if (nd == 0 && *s == '0')
      continue;
    if (nd < MAX_DIGITS) {
      dig[nd++] = *s;
    } else {
      exp10++;  /* the digit's place still counts */
      lost |= *s != '0';
    }
  }
  if (ndigits == 0 || parse_suffix(s, &sexp10, &exp1024))
    return SB__Q_SYNTAX;
  while (nd > 0 && dig[nd - 1] == '0') {
    nd--;
    exp10++;
  }
  if (nd == 0)
    return SB__Q_OK;  /* zero, whatever its sign or suffix */
  if (neg)
    return SB__Q_NEGATIVE;
  exp10 += sexp10 + 3;  /* in milli-units from here on */

  /* Magnitude first (1024^k has at least 3k+1 digits): a value with more
   * than 21 digits is above 2^64, and every loop below stays short. */
  if ((long) nd + exp10 + 3L * exp1024 > 21)
    return SB__Q_RANGE;
  if (lost || exp10 < -60 || nd > 20)
    return SB__Q_PRECISION;
  for (i = 0; i < nd; i++)
    if (!mul_ok(&v, 10) || v > UINT64_MAX - (uint64_t) (dig[i] - '0'))
      return SB__Q_RANGE;
    else
      v += (uint64_t) (dig[i] - '0');

  /* value = v * 10^exp10 * 2^(10*exp1024), exactly, or an error. */
  shift = 10 * exp1024;
  if (exp10 >= 0) {
    for (; exp10 > 0; exp10--)
      if (!mul_ok(&v, 10))
        return SB__Q_RANGE;
  } else {
    /* Dividing by 10^m = 5^m * 2^m: the 5s must divide v, the 2s come
     * out of the binary suffix or must divide v too. */
    for (p5 = 1; exp10 < 0; exp10++) {
      if (!mul_ok(&p5, 5))
        return SB__Q_PRECISION;
      shift--;
    }
    if (v % p5)
      return SB__Q_PRECISION;
    v /= p5;
  }
  if (shift < 0) {
    if (v & ((UINT64_C(1) << -shift) - 1))
      return SB__Q_PRECISION;
    v >>= -shift;
  } else if (shift > 0) {
    if (shift >= 64 || v > (UINT64_MAX >> shift))
      return SB__Q_RANGE;
    v <<= shift;
  }
  if (v > (uint64_t) max_milli)
    return SB__Q_RANGE;
  *out = (int64_t) v;
  return SB__Q_OK;
}

const char *sb__milli_str(int64_t milli, char *buf, size_t n) {
  uint64_t u = milli < 0 ? (uint64_t) 0 - (uint64_t) milli : (uint64_t) milli;
  unsigned frac = (unsigned) (u % 1000);
  int len;

  if (frac == 0) {
    snprintf(buf, n, "%s%llu", milli < 0 ? "-" : "",
             (unsigned long long) (u / 1000));
    return buf;
  }
  len = snprintf(buf, n, "%s%llu.%03u", milli < 0 ? "-" : "",
                 (unsigned long long) (u / 1000), frac);
  while (len > 0 && (size_t) len < n && buf[len - 1] == '0')
    buf[--len] = '\0';
  return buf;
}
