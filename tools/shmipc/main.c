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
    {"ls", "list services: pattern, type, participants (alive/dead), options, live figures", cli_cmd_ls},
    {"info", "show one service in full", cli_cmd_info},
    {"gc", "reclaim dead participants and remove unused services (your own only)", cli_cmd_gc},
    {"top", "live view of services: message rates, fill, dead participants", cli_cmd_top},
    {"pub", "publish lines of standard input to a publish/subscribe service", cli_cmd_pub},
    {"sub", "print the samples that arrive at a publish/subscribe service", cli_cmd_sub},
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
