/* replay.c -- runs a fuzz target over files and directories, no libFuzzer.
 *
 * Linked with each fuzz-<name>.c when the build is not a fuzzing build, so
 * every ordinary (and sanitizer) test run replays the seed corpus and the
 * saved crashers through the target's property checks.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  size_t cap = 4096, n = 0, got;
  char *buf;

  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      char *p = realloc(buf, cap * 2);
      if (!p) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = p;
      cap *= 2;
    }
  }
  fclose(f);
  if (!buf)
    return 1;
  LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int i, bad = 0, files = 0;

  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: no such file %s\n", argv[i]);
      return 1;
    }
    if (S_ISDIR(st.st_mode)) {
      struct dirent **list;
      int k, n = scandir(argv[i], &list, NULL, alphasort);
      for (k = 0; k < n; k++) {
        char path[4096];
        if (list[k]->d_name[0] != '.') {
          snprintf(path, sizeof(path), "%s/%s", argv[i], list[k]->d_name);
          bad |= run_file(path);
          files++;
        }
        free(list[k]);
      }
      free(list);
    } else {
      bad |= run_file(argv[i]);
      files++;
    }
  }
  printf("replayed %d inputs\n", files);
  return bad || files == 0;
}
