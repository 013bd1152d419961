/* names.c -- names and label values of generated objects
 * (docs/mapping.md, "Naming" and "Metadata").
 *
 * A generated object is named "<source>-<tag>[-<part>]": the tag says
 * which kind of source made it (split, access, sa) and the part, a port
 * number, tells the objects of one source apart. For one output kind and
 * tag the part is always there or never, so the name of every object can
 * be taken apart from the right and two sources never collide
 * (docs/mapping.md#naming).
 *
 * Names are kept to 63 characters, the DNS-1123 label length, although
 * most kinds accept 253: some consumers use names as label values. When
 * a name would be longer (or is not a DNS-1123 subdomain, possible only
 * with hand-written offline input) it is cut and a hash of the full name
 * is appended. A hashed name always ends in "-" and 10 hex digits, which
 * no unhashed name does (tags are words and parts are at most 5 digits),
 * so hashed and unhashed names cannot collide either.
 */
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"
#include "sb/kname.h"
#include "sb/err.h"

static int is_alnum_lower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c) {
  return is_alnum_lower(c) || (c >= 'A' && c <= 'Z');
}

int sb__hash_hex(const char *s, size_t n, char out[SB__HASH_HEX + 1]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  size_t i;

  if (!EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) ||
      mdlen * 2 < SB__HASH_HEX)
    return SB_ENOMEM;
  for (i = 0; i < SB__HASH_HEX; i++)
    out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
  out[SB__HASH_HEX] = '\0';
  return 0;
}

/* Writes a cut of full (at most `keep` characters, made of characters
 * `ok` accepts, others replaced by '-', trimmed so it starts and ends
 * alphanumeric) followed by "-<hash>" into out. */
static int hashed(char out[64], const char *full, size_t keep,
                  int lower) {
  char hash[SB__HASH_HEX + 1];
  size_t n = 0, i, start = 0;
  int rc = sb__hash_hex(full, strlen(full), hash);

  if (rc)
    return rc;
  for (i = 0; full[i] && n < keep; i++) {
    char c = full[i];
    if (lower && c >= 'A' && c <= 'Z')
      c = (char) (c - 'A' + 'a');
    if (lower ? !is_alnum_lower(c) : !is_alnum(c) && c != '_' && c != '.')
      c = '-';
    out[n++] = c;
  }
  while (start < n && !is_alnum(out[start]))
    start++;
  while (n > start && !is_alnum(out[n - 1]))
    n--;
  memmove(out, out + start, n - start);
  n -= start;
  if (n)
    out[n++] = '-';
  memcpy(out + n, hash, SB__HASH_HEX + 1);
  return 0;
}

int sb__name(char out[SB__NAME_MAX + 1], const char *src, const char *tag,
             int32_t part) {
  sb_buf b;
  int rc;

  /* Every generated object is named here: pieces are appended by hand
   * (what "-%s" and "-%d" would write), formatting cost more than the
   * rest of the function. */
  sb_buf_init(&b, SB_BUF_UNLIMITED);
  rc = sb_buf_adds(&b, src ? src : "");
  if (tag && *tag) {
    rc |= sb_buf_addc(&b, '-');
    rc |= sb_buf_adds(&b, tag);
  }
  if (part > 0) {
    char digits[12];
    size_t n = sizeof(digits);
    uint32_t v = (uint32_t) part;

    do {
      digits[--n] = (char) ('0' + v % 10);
      v /= 10;
    } while (v);
    digits[--n] = '-';
    rc |= sb_buf_add(&b, digits + n, sizeof(digits) - n);
  }
  if (rc) {
    sb_buf_free(&b);
    return SB_ENOMEM;
  }
  if (b.len <= SB__NAME_MAX && sb_is_dns1123_subdomain(sb_buf_cstr(&b))) {
    memcpy(out, sb_buf_cstr(&b), b.len + 1);
  } else {
    /* Only [a-z0-9-] in a hashed name: always a DNS-1123 label. */
    rc = hashed(out, sb_buf_cstr(&b), SB__NAME_MAX - 1 - SB__HASH_HEX, 1);
  }
  sb_buf_free(&b);
  return rc;
}

int sb_label_value(const char *name, char out[64]) {
  if (!name)
    return SB_EINVAL;
  if (sb_is_label_value(name)) {
    memcpy(out, name, strlen(name) + 1);
    return 0;
  }
  return hashed(out, name, 63 - 1 - SB__HASH_HEX, 0);
}

int sb__fqdn(sb_buf *b, const char *svc, const char *ns, const char *cd) {
  return sb_buf_addf(b, "%s.%s.svc.%s", svc, ns,
                     cd && *cd ? cd : "cluster.local");
}
