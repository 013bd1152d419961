/* kname.h -- Kubernetes name and label syntax (apimachinery's validation
 * rules), shared by the parser (checking what it reads) and the
 * translators (checking what they generate). Each returns 1 when s is
 * valid, 0 otherwise (NULL is never valid).
 */
#ifndef SB_KNAME_H
#define SB_KNAME_H

/* [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
int sb_is_dns1123_label(const char *s);
/* DNS-1123 labels joined by '.', at most 253 characters. */
int sb_is_dns1123_subdomain(const char *s);
/* A DNS-1123 label that starts with a letter (Service names). */
int sb_is_dns1035_label(const char *s);
/* A label value: empty, or at most 63 characters of [A-Za-z0-9._-]
 * starting and ending with an alphanumeric. */
int sb_is_label_value(const char *s);

#endif
