/* SPDX-License-Identifier: MIT */
/* tools/shmipc/cmd_segment.c - `shmipc segment ...`: create, ls, info, read, write, rm. */
#include "cli.h"

#include <shmipc/shmipc.h>
#include <stdio.h>

int cli_cmd_segment(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "shmipc segment: not implemented yet\n");
    return CLI_ERR;
}
