/* test-log.c -- logfmt and JSON lines from one printf-checked call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sb/log.h"

/* Runs one log call into a pipe and returns the line without the time. */
static void capture(sb_log_format fmt, int verbosity, char *out, size_t n,
                    void (*emit)(void)) {
  int fds[2];
  ssize_t r;
  char buf[4096], *p;

  assert_int_equal(pipe(fds), 0);
  sb_log_setup(fmt, verbosity, fds[1]);
  emit();
  close(fds[1]);
  r = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  sb_log_setup(SB_LOG_TEXT, 0, 2);
  buf[r > 0 ? r : 0] = '\0';
  /* Drop the timestamp field, which changes every run. */
  p = strstr(buf, fmt == SB_LOG_JSON ? "\"level\"" : "level=");
  snprintf(out, n, "%s", p ? p : buf);
}

static void emit_fields(void) {
  sb_log(SB_LOG_INFO, "applied", "kind=%s name=%s/%s count=%d ratio=%.2f "
         "quoted=%s pct=100%%", "VirtualService", "shop", "web", 3, 0.5,
         "a \"b\" c");
}

static void emit_debug(void) {
  sb_log(SB_LOG_DEBUG, "noisy", "x=%d", 1);
}

static void text_and_json(void **state) {
  char line[4096];

  (void) state;
  capture(SB_LOG_TEXT, 0, line, sizeof(line), emit_fields);
  assert_string_equal(line, "level=info msg=\"applied\" kind=VirtualService "
                      "name=shop/web count=3 ratio=0.50 quoted=\"a \\\"b\\\" "
                      "c\" pct=100%\n");
  capture(SB_LOG_JSON, 0, line, sizeof(line), emit_fields);
  assert_string_equal(line, "\"level\":\"info\",\"msg\":\"applied\","
                      "\"kind\":\"VirtualService\",\"name\":\"shop/web\","
                      "\"count\":3,\"ratio\":0.50,\"quoted\":\"a \\\"b\\\" "
                      "c\",\"pct\":\"100%\"}\n");
}

static void levels_filter(void **state) {
  char line[4096];

  (void) state;
  capture(SB_LOG_TEXT, 0, line, sizeof(line), emit_debug);
  assert_string_equal(line, "");
  capture(SB_LOG_TEXT, 2, line, sizeof(line), emit_debug);
  assert_string_equal(line, "level=debug msg=\"noisy\" x=1\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(text_and_json),
    cmocka_unit_test(levels_filter),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
