/* weights.c -- TrafficSplit weights as exact relative integers
 * (docs/mapping.md, "Weights").
 *
 * Weights are relative, so the user's own numbers are the exact answer:
 * 90 and 10 stay 90 and 10, and Envoy, Linkerd and Gateway API all divide
 * by the sum themselves. Rounding to percentages (what smi-adapter-istio
 * did, and got wrong) is only done where a target insists on a sum of 100
 * (Istio < 1.15), and then by largest remainder, which never hands a
 * point to a zero weight and never goes negative.
 *
 * v1alpha1 weights arrive as quantities in milli-units; the smallest power
 * of ten that makes all of one split's weights whole keeps them small and
 * exact ("1" and "500m" -> 10 and 5, not 1000 and 500).
 */
#include <math.h>

#include "internal.h"

/* a * b / c without overflow for non-negative operands below 2^63. */
static int64_t muldiv(int64_t a, int64_t b, int64_t c) {
#ifdef __SIZEOF_INT128__
  return (int64_t) ((unsigned __int128) a * (unsigned __int128) b /
                    (unsigned __int128) c);
#else
  return (int64_t) ((long double) a * (long double) b / (long double) c);
#endif
}

/* a * b mod c, same domain. */
static int64_t mulmod(int64_t a, int64_t b, int64_t c) {
#ifdef __SIZEOF_INT128__
  return (int64_t) ((unsigned __int128) a * (unsigned __int128) b %
                    (unsigned __int128) c);
#else
  return (int64_t) fmodl((long double) a * (long double) b,
                         (long double) c);
#endif
}

sb__wres sb__weights(const int64_t *milli, size_t n, int64_t *out,
                     size_t *bad, int *scaled) {
  static const int64_t divisors[] = {1000, 100, 10, 1};
  int64_t div = 1, max = 0;
  size_t i, d;
  int nonzero = 0;

  *scaled = 0;
  for (i = 0; i < n; i++) {
    if (milli[i] < 0) {
      *bad = i;
      return SB__W_NEGATIVE;
    }
    if (milli[i] > 0)
      nonzero = 1;
  }
  if (!nonzero)
    return SB__W_ZERO;
  /* Dividing milli-units by 1000 (k = 1), 100 (k = 10), 10 (k = 100) or
   * 1 (k = 1000): the first divisor that leaves no remainder anywhere. */
  for (d = 0; d < SB_ARRAY_SIZE(divisors); d++) {
    div = divisors[d];
    for (i = 0; i < n; i++)
      if (milli[i] % div)
        break;
    if (i == n)
      break;
  }
  for (i = 0; i < n; i++) {
    out[i] = milli[i] / div;
    if (out[i] > max)
      max = out[i];
  }
  if (max > SB__WEIGHT_MAX) {
    for (i = 0; i < n; i++) {
      if (!out[i])
        continue;
      out[i] = muldiv(out[i], SB__WEIGHT_MAX, max);
      if (out[i] < 1)
        out[i] = 1;
    }
    *scaled = 1;
  }
  return SB__W_OK;
}

void sb__weights_share(const int64_t *w, size_t n, int64_t total,
                       int64_t *out) {
  int64_t sum = 0, given = 0;
  size_t i;

  for (i = 0; i < n; i++)
    sum += w[i];
  if (sum <= 0) {
    for (i = 0; i < n; i++)
      out[i] = 0;
    return;
  }
  for (i = 0; i < n; i++) {
    out[i] = muldiv(w[i], total, sum);
    given += out[i];
  }
  /* Hand out the leftover points one at a time to the largest remainder
   * not yet served; ties go to the earlier backend. The remainders of the
   * non-zero weights add up to exactly the leftover, so a zero weight
   * (remainder 0) is never reached. n is small (backends of one split), so
   * the quadratic scan is cheaper than sorting. */
  while (given < total) {
    int64_t best = 0;
    size_t pick = n;
    for (i = 0; i < n; i++) {
      int64_t r;
      if (w[i] <= 0 || out[i] != muldiv(w[i], total, sum))
        continue;  /* zero, or already got its extra point */
      r = mulmod(w[i], total, sum);
      if (r > best) {
        best = r;
        pick = i;
      }
    }
    if (pick == n)
      break;
    out[pick]++;
    given++;
  }
}
