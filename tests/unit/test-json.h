/* test-json.h -- JSON inputs for unit tests.
 *
 * J() parses JSON written with single quotes, which read far better
 * inside C strings: ' becomes " and ` becomes ' before parsing.
 * test_fixture() parses a file under tests/data/. Both fail the test
 * rather than return NULL. Include after cmocka.h.
 */
#ifndef SB_TEST_JSON_H
#define SB_TEST_JSON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static inline cJSON *J(const char *text) {
  char *s = strdup(text), *p;
  cJSON *j;

  assert_non_null(s);
  for (p = s; *p; p++)
    *p = *p == '\'' ? '"' : *p == '`' ? '\'' : *p;
  j = cJSON_Parse(s);
  if (!j)
    fprintf(stderr, "bad test JSON: %s\n", s);
  free(s);
  assert_non_null(j);
  return j;
}

/* tests/data/<dir>/<name>, parsed. */
static inline cJSON *test_fixture(const char *dir, const char *name) {
  char path[1024];
  FILE *f;
  long n;
  char *buf;
  cJSON *j;

  snprintf(path, sizeof(path), "%s/tests/data/%s/%s", SB_SOURCE_DIR, dir,
           name);
  f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  n = ftell(f);
  assert_true(n > 0);
  rewind(f);
  buf = malloc((size_t) n + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
  buf[n] = '\0';
  fclose(f);
  j = cJSON_Parse(buf);
  free(buf);
  assert_non_null(j);
  return j;
}

#endif
