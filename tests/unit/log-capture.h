/* log-capture.h -- the log sink redirected into a temporary file for a
 * stretch of a test, and what was logged handed back as text. Include
 * after <cmocka.h>.
 *
 *   FILE *log = log_capture_start();
 *   ...code that logs...
 *   char *text = log_capture_end(log);   // stderr again; free(text)
 */
#ifndef SB_TEST_LOG_CAPTURE_H
#define SB_TEST_LOG_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "sb/log.h"

static inline FILE *log_capture_start(void) {
  FILE *f = tmpfile();

  assert_non_null(f);
  sb_log_setup(SB_LOG_TEXT, 0, fileno(f));
  return f;
}

static inline char *log_capture_end(FILE *f) {
  long n;
  char *text;

  sb_log_setup(SB_LOG_TEXT, 0, 2);
  fflush(f);
  n = ftell(f);
  assert_true(n >= 0);
  text = calloc(1, (size_t) n + 1);
  assert_non_null(text);
  rewind(f);
  assert_int_equal(fread(text, 1, (size_t) n, f), (size_t) n);
  fclose(f);
  return text;
}

#endif
