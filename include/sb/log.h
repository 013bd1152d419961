/* log.h -- one line per event, logfmt ("text") or JSON, with a level check
 * before any formatting happens.
 *
 * The sink is the one piece of process-wide state besides the event loop:
 * main() configures it once, and every runtime module writes through it.
 * Pure modules (doc, model, translate) never log; they return diagnostics.
 *
 * Fields come as a printf-checked "key=%s key2=%d" string: each space
 * separated token is one field whose value holds at most one conversion.
 * Values are quoted/escaped by the sink, so callers never worry about
 * spaces or quotes in names. Never log a token, key or certificate.
 *
 *   sb_log(SB_LOG_INFO, "applied", "kind=%s name=%s/%s", kind, ns, name);
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include "sb/common.h"

/* Levels follow klog: errors and warnings always print, info is -v 0,
 * and -v N enables debug levels 1..N. */
enum {
  SB_LOG_ERROR = -2,
  SB_LOG_WARN = -1,
  SB_LOG_INFO = 0,
  SB_LOG_DEBUG = 2,
  SB_LOG_TRACE = 4
};

typedef enum { SB_LOG_TEXT = 0, SB_LOG_JSON = 1 } sb_log_format;

/* Defaults: text, verbosity 0, fd 2. */
void sb_log_setup(sb_log_format format, int verbosity, int fd);
int sb_log_enabled(int level);
void sb__log(int level, const char *msg, const char *fields, ...)
    SB_PRINTF(3, 4);
/* Async-signal-safe: writes msg and a newline with one write(2). */
void sb_log_raw(const char *msg);

#define sb_log(level, msg, ...)                                              \
  do {                                                                       \
    if (sb_log_enabled(level))                                               \
      sb__log((level), (msg), __VA_ARGS__);                                  \
  } while (0)

#endif
