/* test-options.c -- the table-driven option parser of the CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/cli/options.h"
#include "sb/err.h"

typedef struct {
  const char *mesh;
  int qps;
  double ratio;
  int dry;
  int v;
  sb_opt_list files;
} cfg_t;

static const char *const meshes[] = {"auto", "istio", "linkerd", NULL};

#define OFF(f) offsetof(cfg_t, f)
static const sb_opt table[] = {
  {"mesh", 0, SB_OPT_STRING, OFF(mesh), "auto", "TEST_SB_MESH", "MESH",
   meshes, "Mesh."},
  {"qps", 0, SB_OPT_INT, OFF(qps), "20", NULL, "N", NULL, "QPS."},
  {"ratio", 0, SB_OPT_DOUBLE, OFF(ratio), "0.5", NULL, "R", NULL, "R."},
  {"dry-run", 0, SB_OPT_BOOL, OFF(dry), "false", NULL, NULL, NULL, "Dry."},
  {"v", 'v', SB_OPT_COUNT, OFF(v), "0", NULL, "N", NULL, "Verbosity."},
  {"filename", 'f', SB_OPT_LIST, OFF(files), NULL, "TEST_SB_FILES", "FILE",
   NULL, "Files."},
};
#undef OFF

static int parse(cfg_t *c, sb_opt_list *pos, int *help, sb_buf *err,
                 int argc, char **argv) {
  memset(c, 0, sizeof(*c));
  sb_buf_reset(err);
  return sb_opts_parse(table, SB_ARRAY_SIZE(table), c, argc, argv, pos, help,
                       err);
}

static void defaults_env_and_flags(void **state) {
  cfg_t c;
  sb_opt_list pos;
  sb_buf err;
  int help;
  char *argv1[] = {"x", NULL};
  char *argv2[] = {"x", "--mesh=linkerd", "--qps", "5", "--dry-run", "-v",
                   "3", "-f", "a.yaml", "-fb.yaml", "--", "-pos", NULL};

  (void) state;
  sb_buf_init(&err, 1024);
  unsetenv("TEST_SB_MESH");
  unsetenv("TEST_SB_FILES");
  assert_int_equal(parse(&c, &pos, &help, &err, 1, argv1), 0);
  assert_string_equal(c.mesh, "auto");
  assert_int_equal(c.qps, 20);
  assert_true(c.ratio == 0.5);
  assert_int_equal(c.dry, 0);
  assert_int_equal(c.files.n, 0);
  free(pos.v);

  setenv("TEST_SB_MESH", "istio", 1);
  setenv("TEST_SB_FILES", "e1.yaml,e2.yaml", 1);
  assert_int_equal(parse(&c, &pos, &help, &err, 1, argv1), 0);
  assert_string_equal(c.mesh, "istio");
  assert_int_equal(c.files.n, 2);
  assert_string_equal(c.files.v[1], "e2.yaml");
  sb_opts_free(table, SB_ARRAY_SIZE(table), &c);
  free(pos.v);

  /* Flags beat the environment; a list flag replaces the env list. */
  assert_int_equal(parse(&c, &pos, &help, &err, 12, argv2), 0);
  assert_string_equal(c.mesh, "linkerd");
  assert_int_equal(c.qps, 5);
  assert_int_equal(c.dry, 1);
  assert_int_equal(c.v, 3);
  assert_int_equal(c.files.n, 2);
  assert_string_equal(c.files.v[0], "a.yaml");
  assert_string_equal(c.files.v[1], "b.yaml");
  assert_int_equal(pos.n, 1);
  assert_string_equal(pos.v[0], "-pos");
  assert_int_equal(help, 0);
  sb_opts_free(table, SB_ARRAY_SIZE(table), &c);
  free(pos.v);
  unsetenv("TEST_SB_MESH");
  unsetenv("TEST_SB_FILES");
  sb_buf_free(&err);
}

static void usage_errors_are_one_line(void **state) {
  cfg_t c;
  sb_opt_list pos;
  sb_buf err;
  int help;
  char *bad_choice[] = {"x", "--mesh", "consul", NULL};
  char *bad_int[] = {"x", "--qps=fast", NULL};
  char *unknown[] = {"x", "--nope", NULL};
  char *missing[] = {"x", "--qps", NULL};
  char *helps[] = {"x", "-h", NULL};

  (void) state;
  sb_buf_init(&err, 1024);
  assert_int_equal(parse(&c, &pos, &help, &err, 3, bad_choice), SB_EINVAL);
  assert_string_equal(sb_buf_cstr(&err), "--mesh: invalid value \"consul\" "
                      "(one of: auto|istio|linkerd)");
  free(pos.v);
  assert_int_equal(parse(&c, &pos, &help, &err, 2, bad_int), SB_EINVAL);
  assert_string_equal(sb_buf_cstr(&err), "--qps: \"fast\" is not an integer");
  free(pos.v);
  assert_int_equal(parse(&c, &pos, &help, &err, 2, unknown), SB_EINVAL);
  assert_string_equal(sb_buf_cstr(&err), "unknown flag --nope (see --help)");
  free(pos.v);
  assert_int_equal(parse(&c, &pos, &help, &err, 2, missing), SB_EINVAL);
  assert_string_equal(sb_buf_cstr(&err), "--qps needs a value");
  free(pos.v);
  assert_int_equal(parse(&c, &pos, &help, &err, 2, helps), 0);
  assert_int_equal(help, 1);
  free(pos.v);
  sb_opts_free(table, SB_ARRAY_SIZE(table), &c);
  sb_buf_free(&err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(defaults_env_and_flags),
    cmocka_unit_test(usage_errors_are_one_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
