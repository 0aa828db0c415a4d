/* SPDX-License-Identifier: MIT */
/*
 * bench/transports.c - the table of transports, in the order they are run and printed: the floors first,
 * then shmipc's own, then the kernel mechanisms. A new transport is one line here.
 */
#include "bench.h"

#include <string.h>

static const bench_transport *const all[] = {
    &bench_t_cacheline,
    &bench_t_ring,
    &bench_t_channel_spin,
    &bench_t_channel_hybrid,
    &bench_t_channel_block,
    &bench_t_queue_spin,
    &bench_t_queue_hybrid,
    &bench_t_pipe,
    &bench_t_unix_stream,
    &bench_t_unix_dgram,
    &bench_t_mq,
    &bench_t_tcp,
};

const bench_transport *const *bench_transports(size_t *count)
{
    *count = sizeof all / sizeof all[0];
    return all;
}

const bench_transport *bench_transport_find(const char *name)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    return NULL;
}
