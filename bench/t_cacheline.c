/* SPDX-License-Identifier: MIT */
/*
 * bench/t_cacheline.c - transport: the hardware floor. Each direction is one sequence word in shared
 * memory with the payload right behind it (a payload up to 56 bytes shares the word's cache line), and
 * the receiver busy-waits on the word. A message costs exactly the cache-line transfers it needs and
 * nothing else, so no shared-memory IPC can have lower latency on this machine. Ping-pong only: with a
 * single slot per direction streaming would measure the same round trips.
 */
#include "bench.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

typedef struct cl_dir {
    /* Written by the sender only, after the payload: release so the receiver's acquire load of the new
     * value makes the payload visible. */
    _Atomic uint64_t seq;
    unsigned char payload[]; /* from byte 8 on */
} cl_dir;

typedef struct cl_state {
    unsigned char *map;
    size_t map_len, stride;
    uint64_t sent, received; /* this process's counts; private (each process has its copy) */
} cl_state;

static cl_dir *dir_of(cl_state *s, int d) { return (cl_dir *)(void *)(s->map + (size_t)d * s->stride); }

static int cl_setup(bench_ctx *ctx)
{
    cl_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    s->stride = (sizeof(cl_dir) + ctx->size + 4095) & ~(size_t)4095;
    s->map_len = 2 * s->stride;
    s->map = bench_map_shared(s->map_len);
    if (!s->map)
        return -ENOMEM;
    return 0;
}

static int cl_send_begin(bench_ctx *ctx, size_t len, void **out)
{
    cl_state *s = ctx->priv;
    *out = dir_of(s, ctx->role == 0 ? 0 : 1)->payload;
    return 0;
}

static int cl_send_commit(bench_ctx *ctx, size_t len)
{
    cl_state *s = ctx->priv;
    atomic_store_explicit(&dir_of(s, ctx->role == 0 ? 0 : 1)->seq, ++s->sent, memory_order_release);
    return 0;
}

static int cl_recv_begin(bench_ctx *ctx, size_t len, const void **out)
{
    cl_state *s = ctx->priv;
    cl_dir *d = dir_of(s, ctx->role == 0 ? 1 : 0);
    uint64_t want = s->received + 1, spins = 0;
    /* Acquire: pairs with the sender's release store, so the payload read after it is complete. */
    while (atomic_load_explicit(&d->seq, memory_order_acquire) != want) {
        int err = bench_spin(ctx, &spins);
        if (err)
            return err;
    }
    *out = d->payload;
    return 0;
}

static int cl_recv_end(bench_ctx *ctx, size_t len)
{
    cl_state *s = ctx->priv;
    s->received++;
    return 0;
}

static void cl_teardown(bench_ctx *ctx)
{
    cl_state *s = ctx->priv;
    if (!s)
        return;
    if (s->map)
        munmap(s->map, s->map_len);
    free(s);
    ctx->priv = NULL;
}

const bench_transport bench_t_cacheline = {
    .name = "cacheline",
    .description = "bare cache-line ping-pong in shared memory, busy-wait (the hardware floor)",
    .caps = BENCH_CAP_LATENCY | BENCH_CAP_LOWRATE,
    .spins = true,
    .setup = cl_setup,
    .send_begin = cl_send_begin,
    .send_commit = cl_send_commit,
    .recv_begin = cl_recv_begin,
    .recv_end = cl_recv_end,
    .teardown = cl_teardown,
};
