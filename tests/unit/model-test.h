/* model-test.h -- helpers shared by the model unit tests (test-model-*.c).
 *
 * Test inputs are written as JSON with single quotes (J(), test-json.h).
 * Assertions on diagnostics compare severity, field path and message
 * exactly: the messages are part of what the model promises operators.
 */
#ifndef SB_MODEL_TEST_H
#define SB_MODEL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sb/diag.h"
#include "sb/err.h"
#include "sb/model.h"

#include "test-json.h"

static inline void dump_diags(const sb_diags *d) {
  sb_buf b;
  size_t i;

  for (i = 0; i < d->n; i++) {
    sb_buf_init(&b, SB_BUF_UNLIMITED);
    sb_diag_format(&d->v[i], &b);
    fprintf(stderr, "  diag[%zu]: %s\n", i, sb_buf_cstr(&b));
    sb_buf_free(&b);
  }
}

/* Parses text; returns the sb_model_parse result. */
static inline int P(const char *text, sb_obj **out, sb_diags *d) {
  cJSON *j = J(text);
  int rc = sb_model_parse(j, NULL, out, d);

  cJSON_Delete(j);
  if (rc == SB_EINVAL)
    assert_null(*out);
  return rc;
}

/* Parses text that must be valid, with exactly nwarn warnings. */
static inline sb_obj *ok(const char *text, size_t nwarn) {
  sb_diags d;
  sb_obj *o = NULL;
  int rc;

  sb_diags_init(&d);
  rc = P(text, &o, &d);
  if (rc != 0 || sb_diags_count(&d, SB_DIAG_WARNING) != nwarn) {
    fprintf(stderr, "rc=%d (%s), %zu diagnostics:\n", rc, sb_err_name(rc),
            d.n);
    dump_diags(&d);
  }
  assert_int_equal(rc, 0);
  assert_non_null(o);
  assert_int_equal(sb_diags_count(&d, SB_DIAG_ERROR), 0);
  assert_int_equal(sb_diags_count(&d, SB_DIAG_WARNING), nwarn);
  sb_diags_free(&d);
  return o;
}

/* Is there a diagnostic with this severity, path and message? */
static inline int has_diag(const sb_diags *d, sb_diag_sev sev,
                           const char *path, const char *msg) {
  size_t i;

  for (i = 0; i < d->n; i++)
    if (d->v[i].sev == sev && strcmp(d->v[i].path ? d->v[i].path : "",
                                     path) == 0 &&
        strcmp(d->v[i].msg, msg) == 0)
      return 1;
  return 0;
}

static inline void expect_diag(const sb_diags *d, sb_diag_sev sev,
                               const char *path, const char *msg) {
  if (!has_diag(d, sev, path, msg)) {
    fprintf(stderr, "missing %s %s: %s\nhave:\n",
            sev == SB_DIAG_ERROR ? "error" : "warning", path, msg);
    dump_diags(d);
  }
  assert_true(has_diag(d, sev, path, msg));
}

/* text must be invalid with exactly nerr errors, one of which is
 * path: msg. */
static inline void bad(const char *text, size_t nerr, const char *path,
                       const char *msg) {
  sb_diags d;
  sb_obj *o = (sb_obj *) 1;
  int rc;

  sb_diags_init(&d);
  rc = P(text, &o, &d);
  if (rc != SB_EINVAL || sb_diags_count(&d, SB_DIAG_ERROR) != nerr) {
    fprintf(stderr, "rc=%d (%s), want %zu errors, have:\n", rc,
            sb_err_name(rc), nerr);
    dump_diags(&d);
  }
  assert_int_equal(rc, SB_EINVAL);
  assert_null(o);
  assert_int_equal(sb_diags_count(&d, SB_DIAG_ERROR), nerr);
  expect_diag(&d, SB_DIAG_ERROR, path, msg);
  sb_diags_free(&d);
}

/* Like ok(), and one of the warnings is path: msg. */
static inline sb_obj *warned(const char *text, size_t nwarn,
                             const char *path, const char *msg) {
  sb_diags d;
  sb_obj *o = NULL;

  sb_diags_init(&d);
  assert_int_equal(P(text, &o, &d), 0);
  if (sb_diags_count(&d, SB_DIAG_WARNING) != nwarn)
    dump_diags(&d);
  assert_int_equal(sb_diags_count(&d, SB_DIAG_WARNING), nwarn);
  assert_int_equal(sb_diags_count(&d, SB_DIAG_ERROR), 0);
  expect_diag(&d, SB_DIAG_WARNING, path, msg);
  sb_diags_free(&d);
  return o;
}

#endif
