/* kname.c -- Kubernetes name syntax. See sb/kname.h. */
#include "sb/kname.h"

#include <string.h>

static int is_lower_alnum(int ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static int is_alnum(int ch) {
  return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

/* One label of [a-z0-9]([-a-z0-9]*[a-z0-9])? of n bytes. */
static int is_label(const char *s, size_t n) {
  size_t i;

  if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
    return 0;
  for (i = 1; i + 1 < n; i++)
    if (!is_lower_alnum(s[i]) && s[i] != '-')
      return 0;
  return 1;
}

int sb_is_dns1123_label(const char *s) {
  size_t n;

  if (!s)
    return 0;
  n = strlen(s);
  return n <= 63 && is_label(s, n);
}

int sb_is_dns1123_subdomain(const char *s) {
  const char *dot;

  if (!s || !*s || strlen(s) > 253)
    return 0;
  for (;;) {
    dot = strchr(s, '.');
    if (!is_label(s, dot ? (size_t) (dot - s) : strlen(s)))
      return 0;
    if (!dot)
      return 1;
    s = dot + 1;
  }
}

int sb_is_dns1035_label(const char *s) {
  return sb_is_dns1123_label(s) && s[0] >= 'a' && s[0] <= 'z';
}

int sb_is_label_value(const char *s) {
  size_t n, i;

  if (!s)
    return 0;
  n = strlen(s);
  if (n == 0)
    return 1;
  if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
    return 0;
  for (i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return 0;
  return 1;
}
