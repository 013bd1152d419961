/* rfc3339.h -- Kubernetes timestamps (metav1.Time, an ExecCredential's
 * expirationTimestamp) as seconds. Pure: no clock, no locale, no time
 * zone database.
 */
#ifndef SB_RFC3339_H
#define SB_RFC3339_H

#include <stdint.h>

/* "2024-03-02T10:15:00Z" into seconds since 1970 UTC: 't' or ' ' for 'T',
 * fractions of a second (dropped), 'Z' or a "+hh:mm" offset. Dates are
 * checked against the calendar (no 30 February). 0, or SB_EPARSE. */
int sb_rfc3339_parse(const char *s, int64_t *out);

#endif
