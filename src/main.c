/* main.c -- smi-bridge entry point: dispatches to the subcommands in cli/. */
#include <stdio.h>
#include <string.h>

#include "sb/version.h"

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "version") == 0) {
    printf("smi-bridge %s\n", SB_VERSION);
    return 0;
  }
  fprintf(stderr, "usage: smi-bridge translate|run|version [--help]\n");
  return 2;
}
