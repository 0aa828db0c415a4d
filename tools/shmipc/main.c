/* SPDX-License-Identifier: MIT */
/* tools/shmipc/main.c - the shmipc command-line tool: dispatches to one command group per file. */
#include "cli.h"

#include <shmipc/shmipc.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_command commands[] = {
    {"segment", "create, list, inspect, read, write and remove shared-memory segments", cli_cmd_segment},
    {"bench", "measure latency, throughput and CPU cost of shmipc and of kernel IPC", cli_cmd_bench},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: shmipc [--version] [--help] COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'shmipc COMMAND --help' for a command's options.\n");
}

int cli_fail(const char *what, int err)
{
    fprintf(stderr, "shmipc: %s: %s\n", what, shmipc_strerror(err));
    return CLI_ERR;
}

int cli_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno)
        return -ERANGE;
    unsigned shift = 0;
    switch (*end) {
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end)
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = (uint64_t)v << shift;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("shmipc %s\n", shmipc_version());
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "shmipc: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
