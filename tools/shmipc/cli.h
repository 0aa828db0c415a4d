/* SPDX-License-Identifier: MIT */
/* tools/shmipc/cli.h - what the command files of the shmipc CLI share: the command table and helpers
 * for parsing numbers and printing errors. */
#ifndef SHMIPC_CLI_H
#define SHMIPC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes: 0 ok, 1 runtime error, 2 usage error. */
#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* Print "shmipc: WHAT: error text" to stderr and return CLI_ERR. err is a negative errno. */
int cli_fail(const char *what, int err);

/* Parse a size with optional K/M/G suffix (powers of 1024). Returns 0 or -EINVAL / -ERANGE. */
int cli_parse_size(const char *s, uint64_t *out);

/* Command groups, one file each. */
int cli_cmd_segment(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);

#endif
