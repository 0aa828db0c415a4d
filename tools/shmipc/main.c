/* SPDX-License-Identifier: MIT */
/*
 * tools/shmipc/main.c - the shmipc command-line tool: the table of top-level commands. Each command
 * (or command group) lives in its own file and plugs in here with one line.
 */
#include "cli.h"

#include <shmipc/shmipc.h>

#include <string.h>

static const cli_command commands[] = {
    {"segment", "create, list, inspect, read, write, grow and remove shared-memory segments", cli_cmd_segment},
    {"bench", "measure latency, throughput and CPU cost of shmipc and of kernel IPC", cli_cmd_bench},
};

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("shmipc %s\n", shmipc_version());
        return CLI_OK;
    }
    return cli_dispatch("shmipc", "Inspect and use shmipc shared-memory IPC objects. Options: --version, --help.",
                        commands, sizeof commands / sizeof commands[0], argc, argv);
}
