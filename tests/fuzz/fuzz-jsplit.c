/* fuzz-jsplit.c -- bytes -> sb_jsplit (a list page's envelope and items)
 * against cJSON parsing the same bytes whole.
 *
 * Properties checked on every input (abort() on a violation):
 *   - the scanner never reads outside the input (the copy it gets has no
 *     terminator, so ASan sees any overrun) and returns 0, 1 or SB_EPARSE;
 *   - the envelope is NUL-terminated where its length says, and each item
 *     lies inside the input;
 *   - whenever cJSON parses the whole input as an object whose first
 *     "items" is an array, null or absent, the split succeeds, the envelope
 *     and every item parse, and the envelope with its items put back is
 *     the whole input's tree (cJSON_Compare). Inputs with a \u escape are
 *     left out of the comparison (cJSON's lookup decodes an escaped key,
 *     the scanner compares the key as written), and so are those cJSON
 *     does not find equal to themselves (self_equal).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sb/err.h"
#include "sb/jsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz-jsplit: property violated: %s\n", what);
    abort();
  }
}

/* Whether cJSON finds two parses of z equal: not so with a number that
 * overflows to inf, or with a key repeated with another value (its lookup
 * finds the first). Such inputs cannot be compared. */
static int self_equal(const char *z) {
  cJSON *a = cJSON_Parse(z), *b = cJSON_Parse(z);
  int eq = a && b && cJSON_Compare(a, b, 1);

  cJSON_Delete(a);
  cJSON_Delete(b);
  return eq;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size ? size : 1), *z = malloc(size + 1), *env = NULL;
  cJSON *whole, *envj = NULL, *items = NULL, *wi;
  size_t envlen = 0, n;
  const char *e, *end = NULL;
  sb_jsplit it;
  int rc, ok = 1, comparable;

  if (!in || !z)
    abort();
  memcpy(in, data, size);
  memcpy(z, data, size);
  z[size] = '\0';
  whole = cJSON_ParseWithOpts(z, &end, 1);
  if (whole && strlen(z) != size) {
    cJSON_Delete(whole);  /* a NUL inside: cJSON saw less than we do */
    whole = NULL;
  }
  wi = whole ? cJSON_GetObjectItemCaseSensitive(whole, "items") : NULL;
  comparable = whole && cJSON_IsObject(whole) &&
               (!wi || cJSON_IsArray(wi) || cJSON_IsNull(wi)) &&
               !memmem(data, size, "\\u", 2) && self_equal(z);

  rc = sb_jsplit_begin(in, size, "items", &env, &envlen, &it);
  check(rc == 0 || rc == SB_EPARSE, "begin returns 0 or SB_EPARSE");
  if (comparable)
    check(rc == 0, "a page cJSON parses splits");
  if (rc == 0) {
    check(env && env[envlen] == '\0', "envelope length");
    envj = cJSON_ParseWithLength(env, envlen);
    if (comparable)
      check(envj != NULL, "the envelope parses");
    items = envj ? cJSON_GetObjectItemCaseSensitive(envj, "items") : NULL;
    while ((rc = sb_jsplit_next(&it, &e, &n)) == 1) {
      cJSON *item;
      check(e >= in && e + n <= in + size && n > 0, "item inside input");
      item = cJSON_ParseWithLength(e, n);
      if (comparable)
        check(item != NULL, "every item parses");
      if (item && cJSON_IsArray(items))
        cJSON_AddItemToArray(items, item);
      else if (item)
        cJSON_Delete(item);
      else
        ok = 0;
    }
    check(rc == 0 || rc == SB_EPARSE, "next returns 1, 0 or SB_EPARSE");
    if (comparable) {
      check(rc == 0, "the items of a page cJSON parses split");
      check(ok && cJSON_Compare(whole, envj, 1),
            "envelope + items == the whole page");
    }
  } else {
    check(env == NULL, "no envelope on error");
  }
  cJSON_Delete(envj);
  cJSON_Delete(whole);
  free(env);
  free(in);
  free(z);
  return 0;
}
