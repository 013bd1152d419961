/* ratelimit.c -- token bucket and backoff arithmetic. See sb/ratelimit.h. */
#include "sb/ratelimit.h"

#include <math.h>

void sb_bucket_init(sb_bucket *b, double qps, int burst, uint64_t now_ms) {
  b->qps = qps;
  b->burst = burst > 0 ? burst : 1;
  b->tokens = b->burst;
  b->last_ms = now_ms;
}

uint64_t sb_bucket_take(sb_bucket *b, uint64_t now_ms) {
  double need;

  if (b->qps <= 0)
    return 0;
  if (now_ms > b->last_ms) {
    b->tokens += (double) (now_ms - b->last_ms) * b->qps / 1000.0;
    if (b->tokens > b->burst)
      b->tokens = b->burst;
    b->last_ms = now_ms;
  }
  if (b->tokens >= 1.0) {
    b->tokens -= 1.0;
    return 0;
  }
  need = (1.0 - b->tokens) * 1000.0 / b->qps;
  return (uint64_t) ceil(need) ? (uint64_t) ceil(need) : 1;
}

uint64_t sb_gcra_take(uint64_t *full_ms, uint64_t every_ms, int burst,
                      uint64_t now_ms) {
  uint64_t from = *full_ms > now_ms ? *full_ms : now_ms;
  uint64_t ahead = from - now_ms;
  /* burst tokens' worth ahead is empty; one token less is one left. */
  uint64_t limit = (uint64_t) (burst > 1 ? burst - 1 : 0) * every_ms;

  if (ahead > limit)
    return ahead - limit;
  *full_ms = from + every_ms;
  return 0;
}

uint64_t sb_backoff_delay(const sb_backoff *b, unsigned failures, double rnd) {
  double d = (double) b->base_ms;
  unsigned i;

  for (i = 0; i < failures && d < (double) b->max_ms; i++)
    d *= 2;
  if (d > (double) b->max_ms)
    d = (double) b->max_ms;
  d *= 1.0 + b->jitter * (2.0 * rnd - 1.0);
  return d < 1.0 ? 1 : (uint64_t) d;
}
