/* SPDX-License-Identifier: MIT */
#ifdef SHMIPC_HAVE_BRIDGE
#include "cli.h"
int cli_cmd_bridge_bench(int argc, char **argv);
int cli_cmd_bridge_bench(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return CLI_ERR;
}
#endif
