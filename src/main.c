/* main.c -- smi-bridge entry point: picks the subcommand (kubectl style). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sb/version.h"

static const char usage[] =
    "smi-bridge renders Service Mesh Interface (SMI) resources into Istio, "
    "Linkerd\nand Gateway API objects.\n\n"
    "Usage: smi-bridge COMMAND [options]\n\n"
    "Commands:\n"
    "  translate   Print the mesh objects for SMI objects in files (offline "
    "dry run)\n"
    "  version     Print the version\n\n"
    "Run 'smi-bridge COMMAND --help' for a command's options.\n";

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : NULL;

  if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
      !strcmp(cmd, "-h")) {
    fputs(usage, cmd ? stdout : stderr);
    return cmd ? 0 : 2;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
    printf("smi-bridge %s\n", SB_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "translate"))
    return sb_cli_translate(argc - 1, argv + 1);
  fprintf(stderr, "smi-bridge: unknown command \"%s\"\n\n%s", cmd, usage);
  return 2;
}
