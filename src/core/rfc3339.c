/* rfc3339.c -- Kubernetes timestamps as seconds. See sb/rfc3339.h. */
#include "sb/rfc3339.h"

#include "sb/err.h"

/* n decimal digits at *s. */
static int digits(const char **s, int n, int *out) {
  int v = 0;

  while (n--) {
    if (**s < '0' || **s > '9')
      return 0;
    v = v * 10 + (*(*s)++ - '0');
  }
  *out = v;
  return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil): no timegm, which is neither standard
 * C nor free of the process's time zone state on every libc. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int sb_rfc3339_parse(const char *s, int64_t *out) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

  if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) ||
      *s++ != '-' || !digits(&s, 2, &d) ||
      (*s != 'T' && *s != 't' && *s != ' '))
    return SB_EPARSE;
  s++;
  if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) ||
      *s++ != ':' || !digits(&s, 2, &sec))
    return SB_EPARSE;
  if (*s == '.') {  /* fractions of a second: dropped */
    s++;
    if (*s < '0' || *s > '9')
      return SB_EPARSE;
    while (*s >= '0' && *s <= '9')
      s++;
  }
  if (*s == 'Z' || *s == 'z') {
    s++;
  } else if (*s == '+' || *s == '-') {
    sign = *s++ == '-' ? -1 : 1;
    if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) ||
        oh > 23 || om > 59)
      return SB_EPARSE;
  } else {
    return SB_EPARSE;
  }
  if (*s || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
      (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))) ||
      h > 23 || mi > 59 || sec > 60)
    return SB_EPARSE;
  *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
         sign * (oh * 3600 + om * 60);
  return 0;
}
