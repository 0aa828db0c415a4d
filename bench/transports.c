/* SPDX-License-Identifier: MIT */
/*
 * bench/transports.c - the table of transports, in the order they are run and printed: the floors first,
 * then shmipc's own, then the kernel mechanisms; the fan-out ones apart. A new transport is one line here.
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
    &bench_t_pubsub,
    &bench_t_pubsub_spin,
    &bench_t_pubsub_notouch,
    &bench_t_reqresp,
    &bench_t_pipe,
    &bench_t_unix_stream,
    &bench_t_unix_dgram,
    &bench_t_mq,
    &bench_t_tcp,
};

/* Fan-out 1 -> N, run with --fanout: shmipc's pub/sub against the sender writing N pipes. */
static const bench_transport *const fanout[] = {
    &bench_t_pubsub_x1, &bench_t_pubsub_x2, &bench_t_pubsub_x4, &bench_t_pubsub_x8,
    &bench_t_pipe_x1,   &bench_t_pipe_x2,   &bench_t_pipe_x4,   &bench_t_pipe_x8,
};

const bench_transport *const *bench_transports(size_t *count)
{
    *count = sizeof all / sizeof all[0];
    return all;
}

const bench_transport *const *bench_fanout_transports(size_t *count)
{
    *count = sizeof fanout / sizeof fanout[0];
    return fanout;
}

const bench_transport *bench_transport_find(const char *name)
{
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(all[i]->name, name))
            return all[i];
    for (size_t i = 0; i < sizeof fanout / sizeof fanout[0]; i++)
        if (!strcmp(fanout[i]->name, name))
            return fanout[i];
    return NULL;
}
