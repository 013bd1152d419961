/* read.c -- a whole input file (or stdin) into memory, with a byte cap.
 *
 * The only I/O of the doc module, kept apart from the parsers (which never
 * touch a file) so they stay pure. A regular file is sized with fstat and
 * read into one allocation; pipes and stdin grow a buffer by doubling. Either
 * way the cap is enforced on the bytes actually read, since a file may grow
 * while we read it. The data comes back NUL-terminated (not counted in len).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doc-int.h"
#include "sb/err.h"

static void say(char *err, size_t errlen, const char *fmt, const char *name,
                const char *detail) {
  if (err && errlen)
    snprintf(err, errlen, fmt, name, detail);
}

int sb_doc_read_file(const char *path, size_t max, char **data, size_t *len,
                     char *err, size_t errlen) {
  size_t cap, n = 0;
  int is_stdin, fd, rc = 0;
  const char *name;
  struct stat st;
  char *p = NULL, sz[64];

  if (err && errlen)
    err[0] = '\0';
  if (!path || !data || !len)
    return SB_EINVAL;
  if (max > (size_t) -1 / 4)  /* "no limit": keep max + 1 and doubling sane */
    max = (size_t) -1 / 4;
  *data = NULL;
  *len = 0;
  is_stdin = strcmp(path, "-") == 0;
  name = is_stdin ? "standard input" : path;
  if (is_stdin) {
    fd = STDIN_FILENO;
  } else {
    do
      fd = open(path, O_RDONLY | O_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      say(err, errlen, "cannot open %s: %s", name, strerror(errno));
      return SB_EIO;
    }
  }
  /* Room for the cap plus one byte: reading that byte proves "too large".
   * A regular file is sized up front so it takes one allocation. */
  cap = 64 * 1024;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0) {
    if ((unsigned long long) st.st_size > (unsigned long long) max)
      rc = SB_ELIMIT;
    cap = (size_t) st.st_size + 1;
  }
  if (cap < 4096)  /* /proc and friends say 0 */
    cap = 4096;
  if (cap > max + 1)
    cap = max + 1;
  while (rc == 0) {
    ssize_t got;

    if (n == cap) {
      size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      char *q;
      if (n > max) {
        rc = SB_ELIMIT;
        break;
      }
      q = realloc(p, ncap + 1);
      if (!q) {
        rc = SB_ENOMEM;
        break;
      }
      p = q;
      cap = ncap;
    } else if (!p && !(p = malloc(cap + 1))) {
      rc = SB_ENOMEM;
      break;
    }
    got = read(fd, p + n, cap - n);
    if (got == 0)
      break;
    if (got < 0) {
      if (errno == EINTR)
        continue;
      say(err, errlen, "cannot read %s: %s", name, strerror(errno));
      rc = SB_EIO;
      break;
    }
    n += (size_t) got;
  }
  if (!is_stdin)
    close(fd);
  if (rc == 0 && n > max)
    rc = SB_ELIMIT;
  if (rc == SB_ELIMIT)
    say(err, errlen, "%s is larger than %s", name,
        sb__size_text(max, sz, sizeof(sz)));
  else if (rc == SB_ENOMEM)
    say(err, errlen, "cannot read %s: %s", name, "out of memory");
  if (rc) {
    free(p);
    return rc;
  }
  p[n] = '\0';
  *data = p;
  *len = n;
  return 0;
}
