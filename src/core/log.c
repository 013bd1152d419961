/* log.c -- the logfmt/JSON sink behind sb_log().
 *
 * Each field's value is formatted on its own, by reading the conversion in
 * the field string and taking exactly that argument type from the va_list;
 * that is what lets one printf-checked call site produce both logfmt and
 * JSON with correct quoting and numbers left unquoted in JSON.
 */
#include "sb/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sb/buf.h"

static struct {
  sb_log_format format;
  int verbosity;
  int fd;
} sink = {SB_LOG_TEXT, 0, 2};

void sb_log_setup(sb_log_format format, int verbosity, int fd) {
  sink.format = format;
  sink.verbosity = verbosity;
  sink.fd = fd;
}

int sb_log_enabled(int level) {
  return level <= sink.verbosity;
}

static const char *level_name(int level) {
  if (level <= SB_LOG_ERROR)
    return "error";
  if (level == SB_LOG_WARN)
    return "warning";
  if (level == SB_LOG_INFO)
    return "info";
  return "debug";
}

static void add_json_string(sb_buf *b, const char *s, size_t n) {
  size_t i;

  sb_buf_addc(b, '"');
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c == '"' || c == '\\') {
      sb_buf_addc(b, '\\');
      sb_buf_addc(b, (char) c);
    } else if (c == '\n') {
      sb_buf_adds(b, "\\n");
    } else if (c == '\t') {
      sb_buf_adds(b, "\\t");
    } else if (c < 0x20) {
      sb_buf_addf(b, "\\u%04x", c);
    } else {
      sb_buf_addc(b, (char) c);
    }
  }
  sb_buf_addc(b, '"');
}

static int needs_quotes(const char *s, size_t n) {
  size_t i;

  if (n == 0)
    return 1;
  for (i = 0; i < n; i++)
    if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || s[i] == '\\' ||
        (unsigned char) s[i] < 0x20)
      return 1;
  return 0;
}

/* One field: key, then value (numeric tells JSON to leave it bare). */
static void add_field(sb_buf *b, const char *key, size_t klen,
                      const char *val, size_t vlen, int numeric) {
  if (sink.format == SB_LOG_JSON) {
    sb_buf_addc(b, ',');
    add_json_string(b, key, klen);
    sb_buf_addc(b, ':');
    if (numeric)
      sb_buf_add(b, val, vlen);
    else
      add_json_string(b, val, vlen);
    return;
  }
  sb_buf_addc(b, ' ');
  sb_buf_add(b, key, klen);
  sb_buf_addc(b, '=');
  if (needs_quotes(val, vlen))
    add_json_string(b, val, vlen);
  else
    sb_buf_add(b, val, vlen);
}

/* Formats one conversion starting at p (just after '%') into out, taking
 * its argument from ap; returns the position after it. *numeric tells
 * whether the conversion printed a number. */
static const char *format_one(const char *p, const char *end, va_list *ap,
                              sb_buf *out, int *numeric) {
  char spec[32], piece[512];
  size_t sl = 0;
  int lng = 0;
  char conv;

  spec[sl++] = '%';
  while (p < end && strchr("-+ #0123456789.", *p) && sl < 20)
    spec[sl++] = *p++;
  while (p < end && strchr("hlzjt", *p) && sl < 24) {
    if (*p == 'l')
      lng++;
    else if (*p == 'z' || *p == 'j' || *p == 't')
      lng = 3;
    spec[sl++] = *p++;
  }
  conv = p < end ? *p++ : 's';
  spec[sl++] = conv;
  spec[sl] = '\0';
  *numeric = 0;
  switch (conv) {
  case 'd': case 'i':
    *numeric = 1;
    if (lng == 3)
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, ssize_t));
    else if (lng == 2)
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, long long));
    else if (lng == 1)
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, long));
    else
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, int));
    break;
  case 'u': case 'x': case 'X': case 'o':
    *numeric = conv == 'u';
    if (lng == 3)
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, size_t));
    else if (lng == 2)
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, unsigned long long));
    else if (lng == 1)
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, unsigned long));
    else
      snprintf(piece, sizeof(piece), spec, va_arg(*ap, unsigned));
    break;
  case 'f': case 'g': case 'e':
    *numeric = 1;
    snprintf(piece, sizeof(piece), spec, va_arg(*ap, double));
    break;
  case 'c':
    snprintf(piece, sizeof(piece), spec, va_arg(*ap, int));
    break;
  case 'p':
    snprintf(piece, sizeof(piece), spec, va_arg(*ap, void *));
    break;
  default: {
    const char *str = va_arg(*ap, const char *);
    snprintf(piece, sizeof(piece), spec, str ? str : "<nil>");
    break;
  }
  }
  sb_buf_adds(out, piece);
  return p;
}

/* Formats the value part of one field (literal text and conversions) into
 * out. Returns 1 if the value is exactly one number (bare in JSON). */
static int format_value(const char *v, size_t vlen, va_list *ap,
                        sb_buf *out) {
  const char *p = v, *end = v + vlen;
  int convs = 0, literal = 0, numeric = 0;

  while (p < end) {
    if (*p != '%') {
      sb_buf_addc(out, *p++);
      literal = 1;
      continue;
    }
    p++;
    if (p < end && *p == '%') {
      sb_buf_addc(out, '%');
      p++;
      literal = 1;
      continue;
    }
    p = format_one(p, end, ap, out, &numeric);
    convs++;
  }
  return convs == 1 && !literal && numeric;
}

void sb__log(int level, const char *msg, const char *fields, ...) {
  char ts[80];
  sb_buf val;
  struct timeval tv;
  struct tm tm;
  va_list ap;
  sb_buf b;
  const char *f = fields;

  gettimeofday(&tv, NULL);
  gmtime_r(&tv.tv_sec, &tm);
  snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000));
  sb_buf_init(&b, 64 * 1024);
  if (sink.format == SB_LOG_JSON) {
    sb_buf_adds(&b, "{\"time\":\"");
    sb_buf_adds(&b, ts);
    sb_buf_adds(&b, "\",\"level\":\"");
    sb_buf_adds(&b, level_name(level));
    sb_buf_adds(&b, "\",\"msg\":");
    add_json_string(&b, msg, strlen(msg));
  } else {
    sb_buf_addf(&b, "time=%s level=%s msg=", ts, level_name(level));
    add_json_string(&b, msg, strlen(msg));
  }
  sb_buf_init(&val, 4096);
  va_start(ap, fields);
  while (f && *f) {
    const char *end, *eq;
    int numeric;

    while (*f == ' ')
      f++;
    if (!*f)
      break;
    end = strchr(f, ' ');
    if (!end)
      end = f + strlen(f);
    eq = memchr(f, '=', (size_t) (end - f));
    if (!eq) {
      f = end;
      continue;
    }
    sb_buf_reset(&val);
    numeric = format_value(eq + 1, (size_t) (end - eq - 1), &ap, &val);
    add_field(&b, f, (size_t) (eq - f), sb_buf_cstr(&val), val.len,
              numeric);
    f = end;
  }
  va_end(ap);
  sb_buf_free(&val);
  sb_buf_adds(&b, sink.format == SB_LOG_JSON ? "}\n" : "\n");
  if (b.len) {
    ssize_t n = write(sink.fd, b.data, b.len);
    (void) n;
  }
  sb_buf_free(&b);
}

void sb_log_raw(const char *msg) {
  size_t n = strlen(msg);
  ssize_t w;

  w = write(sink.fd, msg, n);
  w = write(sink.fd, "\n", 1);
  (void) w;
}
