/* cli.h -- the subcommands of the smi-bridge executable. Each returns the
 * process exit status: 0 success, 1 failure (for translate: some input was
 * invalid), 2 usage error. */
#ifndef SB_CLI_H
#define SB_CLI_H

int sb_cli_translate(int argc, char **argv);
int sb_cli_run(int argc, char **argv);

#endif
