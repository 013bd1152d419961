/* wrap-alloc.h -- failing allocations on demand, for OOM tests.
 *
 * tests/CMakeLists.txt links the tests that include this with --wrap for
 * malloc, calloc and realloc (and defines SB_TEST_WRAP_ALLOC): every
 * allocation made in sbcore and in the test comes here, and fails once
 * fail_after allocations have passed (-1: never). Include it in one file
 * of a test program only.
 */
#ifndef SB_TEST_WRAP_ALLOC_H
#define SB_TEST_WRAP_ALLOC_H

#include <stddef.h>

#ifdef SB_TEST_WRAP_ALLOC
static long fail_after = -1;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

static int alloc_fails(void) {
  if (fail_after < 0)
    return 0;
  if (fail_after == 0)
    return 1;
  fail_after--;
  return 0;
}

void *__wrap_malloc(size_t n) {
  return alloc_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m) {
  return alloc_fails() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n) {
  return alloc_fails() ? NULL : __real_realloc(p, n);
}
#endif

#endif
