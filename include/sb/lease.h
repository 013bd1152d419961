/* lease.h -- leader election on a coordination.k8s.io/v1 Lease.
 *
 * client-go's leaderelection semantics: every retry period a candidate
 * reads the Lease; it takes it when it is free or its holder has not
 * renewed within lease_duration (measured on our own clock from when we
 * last saw the record change -- never by comparing clocks across
 * machines); the holder renews every retry period and gives up leadership
 * when it could not renew for renew_deadline. Writes use the Lease's
 * resourceVersion, so two candidates never both win.
 *
 * Defaults: 15 s lease duration, 10 s renew deadline, 2 s retry period.
 * On shutdown the leader releases the Lease (holderIdentity cleared,
 * leaseDurationSeconds 1) so a follower takes over at once.
 *
 * Timing, precisely: the renew deadline counts from when the last
 * successful write was sent; the leader stops leading (callback 0) when it
 * passes, even while a renewal is still out. A follower looks every retry
 * period and, when the holder's record stops changing, once more at the
 * moment it has been unchanged for lease_duration: a dead leader is
 * replaced within lease_duration + retry_period (+ one request) of its
 * last renewal. An empty holderIdentity, or our own identity, is taken at
 * once. leaseDurationSeconds is written as lease_duration rounded up to
 * whole seconds; expiry uses our own lease_duration. Logs: "became
 * leader", "lost leadership" (with the reason), "new leader elected
 * holder=...", "released the lease".
 */
#ifndef SB_LEASE_H
#define SB_LEASE_H

#include <uv.h>

#include "sb/kube.h"

typedef struct sb_lease sb_lease;

typedef struct sb_lease_opts {
  const char *ns;            /* namespace of the Lease */
  const char *name;          /* "smi-bridge" */
  const char *identity;      /* unique per process: hostname_random */
  unsigned lease_duration_ms;/* 0 = 15000 */
  unsigned renew_deadline_ms;/* 0 = 10000 */
  unsigned retry_period_ms;  /* 0 = 2000 */
} sb_lease_opts;

/* Called on every change of leadership (1 = we lead, 0 = we do not),
 * from the loop; never from or after sb_lease_close (the caller is
 * stopping anyway). It may call sb_lease_close. */
typedef void (*sb_lease_fn)(void *arg, int leading);

/* o is copied. SB_EINVAL: missing ns/name/identity or fn, or durations
 * that break lease_duration > renew_deadline > retry_period. */
int sb_lease_new(uv_loop_t *loop, sb_kube *k, const sb_lease_opts *o,
                 sb_lease_fn fn, void *arg, sb_lease **out);
/* Starts campaigning (the first look is immediate). SB_EINVAL when
 * started already or closing. */
int sb_lease_start(sb_lease *l);
int sb_lease_leading(const sb_lease *l);
/* The current holder as last observed ("" when none). */
const char *sb_lease_holder(const sb_lease *l);
/* Releases the Lease if we hold it, stops, then cb(arg) from the loop --
 * also when the release fails (logged; one re-read and retry on 409). The
 * request out, if any, is canceled first. l is freed before cb runs; a
 * second call is ignored. k must stay open until cb. */
void sb_lease_close(sb_lease *l, void (*cb)(void *arg), void *arg);

#endif
