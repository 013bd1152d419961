/* kube-int.h -- private to src/kube/: helpers shared by its files and
 * exposed (sb__ names) so the unit tests can reach the pure parts.
 */
#ifndef SB_KUBE_INT_H
#define SB_KUBE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "sb/buf.h"

/* Base64 (standard alphabet, '=' padding; whitespace ignored when
 * decoding). The result is NUL-terminated; caller frees. SB_EPARSE on a
 * bad character, SB_ENOMEM. */
int sb__b64_decode(const char *s, size_t n, char **out, size_t *outlen);
int sb__b64_encode(const char *p, size_t n, char **out);

/* Reads a whole small file; refuses more than max bytes. On error writes
 * strerror text (or "larger than N bytes") to err. Caller frees *data
 * (NUL-terminated). SB_EIO, SB_ELIMIT, SB_ENOMEM. */
int sb__read_file(const char *path, size_t max, char **data, size_t *len,
                  char *err, size_t errlen);


/* An ExecCredential as a plugin prints it. */
typedef struct sb__execcred {
  char *token;
  char *cert;
  size_t cert_len;
  char *key;
  size_t key_len;
  int64_t expiry;          /* epoch seconds; 0 = never expires */
} sb__execcred;

/* Parses and checks plugin output against the apiVersion the kubeconfig
 * asked for. On error writes the reason to err; SB_EPARSE or SB_ENOMEM. */
int sb__execcred_parse(const char *json, size_t len, const char *api_version,
                       sb__execcred *out, char *err, size_t errlen);
void sb__execcred_free(sb__execcred *c);
/* The KUBERNETES_EXEC_INFO value for a plugin run. Caller frees. */
struct sb_kubeconfig;
char *sb__exec_info(const struct sb_kubeconfig *cfg);

/* Splits a byte stream into lines. Each complete line (without "\n" and
 * a trailing "\r"; empty lines skipped) goes to fn; a non-zero return
 * stops and is returned. A line longer than max bytes fails with
 * SB_ELIMIT. Partial lines wait for the next chunk. */
typedef struct sb__lines {
  sb_buf buf;
  int (*fn)(void *arg, const char *line, size_t len);
  void *arg;
} sb__lines;

void sb__lines_init(sb__lines *l, size_t max,
                    int (*fn)(void *arg, const char *line, size_t len),
                    void *arg);
int sb__lines_feed(sb__lines *l, const char *p, size_t n);
/* Bytes of an unfinished last line. */
size_t sb__lines_pending(const sb__lines *l);
void sb__lines_free(sb__lines *l);

/* A decoded metav1.Status (or a bare HTTP status when the body is not
 * one). */
typedef struct sb__status {
  int err;                 /* SB_E* for the code/reason */
  long code;
  char reason[64];
  char message[1024];
} sb__status;

void sb__status_decode(long http_status, const char *body, size_t len,
                       sb__status *out);
void sb__status_from_json(long http_status, const cJSON *st, sb__status *o);

/* Appends s percent-encoded for a URL path segment or query value. */
int sb__url_escape(sb_buf *b, const char *s);

#endif
