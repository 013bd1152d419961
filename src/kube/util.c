/* util.c -- small pure helpers of the kube module: base64 for *-data
 * fields, bounded file reads, RFC 3339 times, the watch line splitter and
 * URL escaping. Kept apart from the I/O code so the unit tests can drive
 * them directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kube-int.h"
#include "sb/err.h"

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

int sb__b64_decode(const char *s, size_t n, char **out, size_t *outlen) {
  char *p = malloc(n / 4 * 3 + 4);
  size_t i, o = 0;
  unsigned acc = 0;
  int bits = 0, pad = 0;

  *out = NULL;
  if (!p)
    return SB_ENOMEM;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    int v;

    if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
      continue;
    if (c == '=') {
      pad++;
      continue;
    }
    v = b64_value(c);
    if (v < 0 || pad) {
      free(p);
      return SB_EPARSE;
    }
    acc = (acc << 6) | (unsigned) v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      p[o++] = (char) ((acc >> bits) & 0xff);
    }
  }
  if (pad > 2 || bits >= 6) {
    free(p);
    return SB_EPARSE;
  }
  p[o] = '\0';
  *out = p;
  if (outlen)
    *outlen = o;
  return 0;
}

int sb__b64_encode(const char *p, size_t n, char **out) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *u = (const unsigned char *) p;
  char *s = malloc((n + 2) / 3 * 4 + 1);
  size_t i, o = 0;

  *out = NULL;
  if (!s)
    return SB_ENOMEM;
  for (i = 0; i + 2 < n; i += 3) {
    s[o++] = tab[u[i] >> 2];
    s[o++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
    s[o++] = tab[((u[i + 1] & 15) << 2) | (u[i + 2] >> 6)];
    s[o++] = tab[u[i + 2] & 63];
  }
  if (i < n) {
    s[o++] = tab[u[i] >> 2];
    if (i + 1 < n) {
      s[o++] = tab[((u[i] & 3) << 4) | (u[i + 1] >> 4)];
      s[o++] = tab[(u[i + 1] & 15) << 2];
    } else {
      s[o++] = tab[(u[i] & 3) << 4];
      s[o++] = '=';
    }
    s[o++] = '=';
  }
  s[o] = '\0';
  *out = s;
  return 0;
}

int sb__read_file(const char *path, size_t max, char **data, size_t *len,
                  char *err, size_t errlen) {
  sb_buf b;
  char chunk[8192];
  int fd, rc = 0;

  *data = NULL;
  if (len)
    *len = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s", strerror(errno));
    return SB_EIO;
  }
  sb_buf_init(&b, max);
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));

    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      snprintf(err, errlen, "%s", strerror(errno));
      rc = SB_EIO;
      break;
    }
    if (n == 0)
      break;
    rc = sb_buf_add(&b, chunk, (size_t) n);
    if (rc == SB_ELIMIT)
      snprintf(err, errlen, "larger than %zu bytes", max);
    else if (rc)
      snprintf(err, errlen, "out of memory");
    if (rc)
      break;
  }
  close(fd);
  if (rc) {
    sb_buf_free(&b);
    return rc;
  }
  *data = sb_buf_steal(&b, len);
  if (!*data) {
    snprintf(err, errlen, "out of memory");
    return SB_ENOMEM;
  }
  return 0;
}

void sb__lines_init(sb__lines *l, size_t max,
                    int (*fn)(void *arg, const char *line, size_t len),
                    void *arg) {
  sb_buf_init(&l->buf, max);
  l->fn = fn;
  l->arg = arg;
}

static int emit(sb__lines *l, const char *p, size_t n) {
  if (n && p[n - 1] == '\r')
    n--;
  if (n == 0)
    return 0;
  return l->fn(l->arg, p, n);
}

int sb__lines_feed(sb__lines *l, const char *p, size_t n) {
  const char *nl;
  int rc;

  while (n) {
    nl = memchr(p, '\n', n);
    if (!nl) {
      /* No end in this chunk: keep it (the cap rejects runaway lines). */
      return sb_buf_add(&l->buf, p, n);
    }
    if (l->buf.len) {
      rc = sb_buf_add(&l->buf, p, (size_t) (nl - p));
      if (rc)
        return rc;
      rc = emit(l, l->buf.data, l->buf.len);
      sb_buf_reset(&l->buf);
    } else {
      /* Whole line inside the chunk: no copy. */
      if ((size_t) (nl - p) > l->buf.max)
        return SB_ELIMIT;
      rc = emit(l, p, (size_t) (nl - p));
    }
    if (rc)
      return rc;
    n -= (size_t) (nl - p) + 1;
    p = nl + 1;
  }
  return 0;
}

size_t sb__lines_pending(const sb__lines *l) {
  return l->buf.len;
}

void sb__lines_free(sb__lines *l) {
  sb_buf_free(&l->buf);
}

int sb__url_escape(sb_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  int rc = 0;

  for (; *s && !rc; s++) {
    unsigned char c = (unsigned char) *s;

    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      rc = sb_buf_addc(b, (char) c);
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};

      rc = sb_buf_add(b, e, 3);
    }
  }
  return rc;
}
