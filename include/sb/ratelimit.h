/* ratelimit.h -- token bucket and exponential backoff with jitter.
 *
 * Pure arithmetic on times the caller passes in (milliseconds on any
 * monotonic clock, e.g. uv_now): no clock, no timer, no global state, so
 * the queue, the API client and the reflectors can share them and the unit
 * tests can drive them through time exactly.
 */
#ifndef SB_RATELIMIT_H
#define SB_RATELIMIT_H

#include <stdint.h>

/* Token bucket: `qps` tokens a second, holding at most `burst`. */
typedef struct sb_bucket {
  double qps;
  double burst;
  double tokens;
  uint64_t last_ms;
} sb_bucket;

/* Starts full. qps <= 0 means unlimited. */
void sb_bucket_init(sb_bucket *b, double qps, int burst, uint64_t now_ms);
/* Takes one token if there is one: returns 0. Otherwise returns how many
 * milliseconds until one is available (> 0) and takes nothing. */
uint64_t sb_bucket_take(sb_bucket *b, uint64_t now_ms);

/* The same bucket in 8 bytes, for many buckets that share one rate (the
 * Event recorder keeps one per object): instead of a token count, the
 * time at which the bucket is full again (the generic cell rate
 * algorithm's "theoretical arrival time"). A token is there while that
 * time is less than burst tokens' worth ahead of now; taking one moves
 * it every_ms later. Start with *full_ms <= now_ms (0 will do): full.
 * Returns 0 and takes a token, or returns the milliseconds until there
 * is one (> 0) and takes nothing -- as sb_bucket_take with qps =
 * 1000 / every_ms, but in integers. burst < 1 = 1; every_ms 0 =
 * unlimited. The bucket is full again once *full_ms <= now_ms. */
uint64_t sb_gcra_take(uint64_t *full_ms, uint64_t every_ms, int burst,
                      uint64_t now_ms);

/* Exponential backoff: base * 2^failures, capped, with +/- jitter.
 * jitter is a fraction (0.2 = +/-20%); rnd is a caller-supplied random
 * value in [0, 1) so tests are reproducible. */
typedef struct sb_backoff {
  uint64_t base_ms;
  uint64_t max_ms;
  double jitter;
} sb_backoff;

uint64_t sb_backoff_delay(const sb_backoff *b, unsigned failures, double rnd);

#endif
