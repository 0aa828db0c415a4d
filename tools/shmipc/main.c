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
    {"channel", "create, send to, receive from, inspect and remove a channel (one producer, one consumer)",
     cli_cmd_channel},
    {"queue", "create, send to, receive from, inspect and remove a queue (many producers and consumers)",
     cli_cmd_queue},
    {"bench", "measure latency, throughput and CPU cost of shmipc and of kernel IPC", cli_cmd_bench},
#ifdef SHMIPC_HAVE_BRIDGE
    {"bridge", "bridge services to other hosts over NATS (export, import; bench: its cost)", cli_cmd_bridge},
#endif
};

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("shmipc %s\n", shmipc_version());
        return CLI_OK;
    }
    /* --dir DIR (before the command): where named objects live, as SHMIPC_DIR would say. */
    if (argc >= 2 && (!strcmp(argv[1], "--dir") || !strncmp(argv[1], "--dir=", 6))) {
        const char *dir = argv[1][5] == '=' ? argv[1] + 6 : argc >= 3 ? argv[2] : NULL;
        if (!dir) {
            fprintf(stderr, "shmipc: option '--dir' needs a value\n");
            return CLI_USAGE;
        }
        int err = shmipc_segment_set_dir(dir);
        if (err)
            return cli_fail(dir, err);
        int used = argv[1][5] == '=' ? 1 : 2;
        argv[used] = argv[0];
        argc -= used;
        argv += used;
    }
    return cli_dispatch(
        "shmipc",
        "Inspect and use shmipc shared-memory IPC objects. Options: --version, --help, --dir DIR (where named\n"
        "objects live; default /dev/shm, or $SHMIPC_DIR).",
        commands, sizeof commands / sizeof commands[0], argc, argv);
}
