/* SPDX-License-Identifier: MIT */
/*
 * bench/t_channel.c - transports: shmipc's channel (include/shmipc/channel.h), one per direction, used in
 * place (reserve/commit to send, peek/release to receive), in each of its three wait modes: busy-poll
 * (channel-spin), futex sleep at once (channel-block) and spin-then-sleep (channel-hybrid). The parent
 * creates both channels by name; the child opens its own endpoints by name, as an unrelated process would.
 */
#include "bench.h"

#include <shmipc/channel.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct ch_state {
    char name[2][64];      /* [0]: parent -> child, [1]: child -> parent */
    shmipc_channel *ch[2]; /* this process's endpoints of each */
    shmipc_wait_mode wait;
    int timeout;           /* ms, for every call: bench_timeout_ms() at attach */
} ch_state;

static void ch_teardown(bench_ctx *ctx)
{
    ch_state *s = ctx->priv;
    if (!s)
        return;
    for (int d = 0; d < 2; d++) {
        shmipc_channel_close(s->ch[d]);
        if (s->name[d][0])
            shmipc_channel_unlink(s->name[d]);
    }
    free(s);
    ctx->priv = NULL;
}

static int ch_setup(bench_ctx *ctx, shmipc_wait_mode wait)
{
    ch_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    s->wait = wait;
    /* Room for a few messages in flight, at least the default 64 KiB. */
    size_t cap = SHMIPC_CHANNEL_DEFAULT_CAPACITY;
    while (cap < 4 * (ctx->size + 64) && cap < SHMIPC_CHANNEL_MAX_CAPACITY)
        cap *= 2;
    int ndirs = ctx->mode == BENCH_THROUGHPUT ? 1 : 2;
    for (int d = 0; d < ndirs; d++) {
        snprintf(s->name[d], sizeof s->name[d], "/shmipc-bench-ch-%d-%d", (int)getpid(), d);
        shmipc_channel_unlink(s->name[d]);
        shmipc_channel_opts o;
        shmipc_channel_opts_init(&o);
        o.capacity = cap;
        o.wait_mode = wait;
        /* The parent produces on [0] and consumes on [1]. */
        o.role = d == 0 ? SHMIPC_CHANNEL_PRODUCER : SHMIPC_CHANNEL_CONSUMER;
        int err = shmipc_channel_create(s->name[d], &o, &s->ch[d]);
        if (err) {
            s->name[d][0] = '\0';
            return err;
        }
        size_t max = shmipc_channel_max_msg(s->ch[d]);
        if (max < ctx->size) {
            snprintf(ctx->why, sizeof ctx->why, "limit %zu B: largest message of a %zu B ring", max, cap);
            return -EMSGSIZE;
        }
    }
    return 0;
}

static int ch_setup_spin(bench_ctx *ctx) { return ch_setup(ctx, SHMIPC_WAIT_SPIN); }
static int ch_setup_block(bench_ctx *ctx) { return ch_setup(ctx, SHMIPC_WAIT_BLOCK); }
static int ch_setup_hybrid(bench_ctx *ctx) { return ch_setup(ctx, SHMIPC_WAIT_HYBRID); }

static int ch_attach(bench_ctx *ctx)
{
    ch_state *s = ctx->priv;
    s->timeout = bench_timeout_ms(ctx);
    if (ctx->role == 0)
        return 0;
    /* The handles copied from the parent belong to it: leave them alone (closing one would give up the
     * parent's endpoint) and open this process's own. */
    s->ch[0] = s->ch[1] = NULL;
    shmipc_channel_opts o;
    shmipc_channel_opts_init(&o);
    o.wait_mode = s->wait;
    for (int d = 0; d < 2; d++) {
        if (!s->name[d][0])
            continue;
        int err = shmipc_channel_open(s->name[d], d == 0 ? SHMIPC_CHANNEL_CONSUMER : SHMIPC_CHANNEL_PRODUCER, &o,
                                      &s->ch[d]);
        if (err)
            return err;
    }
    return 0;
}

/* The parent sends on [0] and receives on [1]; the child the other way round. */
static shmipc_channel *tx(bench_ctx *ctx) { return ((ch_state *)ctx->priv)->ch[ctx->role == 0 ? 0 : 1]; }
static shmipc_channel *rx(bench_ctx *ctx) { return ((ch_state *)ctx->priv)->ch[ctx->role == 0 ? 1 : 0]; }

static int ch_send_begin(bench_ctx *ctx, size_t len, void **out)
{
    return shmipc_channel_reserve(tx(ctx), len, out, ((ch_state *)ctx->priv)->timeout);
}

static int ch_send_commit(bench_ctx *ctx, size_t len) { return shmipc_channel_commit(tx(ctx), len); }

static int ch_recv_begin(bench_ctx *ctx, size_t len, const void **out)
{
    int n = shmipc_channel_peek(rx(ctx), out, ((ch_state *)ctx->priv)->timeout);
    if (n < 0)
        return n;
    return (size_t)n == len ? 0 : -EBADMSG;
}

static int ch_recv_end(bench_ctx *ctx, size_t len) { return shmipc_channel_release(rx(ctx)); }

static void ch_detach(bench_ctx *ctx)
{
    ch_state *s = ctx->priv;
    if (ctx->role == 0)
        return; /* teardown closes the parent's handles */
    for (int d = 0; d < 2; d++) {
        shmipc_channel_close(s->ch[d]);
        s->ch[d] = NULL;
    }
}

const bench_transport bench_t_channel_spin = {
    .name = "channel-spin",
    .description = "shmipc channel, zero-copy, busy-poll (SHMIPC_WAIT_SPIN)",
    .caps = BENCH_CAP_ALL,
    .spins = true,
    .setup = ch_setup_spin,
    .attach = ch_attach,
    .send_begin = ch_send_begin,
    .send_commit = ch_send_commit,
    .recv_begin = ch_recv_begin,
    .recv_end = ch_recv_end,
    .detach = ch_detach,
    .teardown = ch_teardown,
};

const bench_transport bench_t_channel_hybrid = {
    .name = "channel-hybrid",
    .description = "shmipc channel, zero-copy, spin then sleep (SHMIPC_WAIT_HYBRID)",
    .caps = BENCH_CAP_ALL,
    .setup = ch_setup_hybrid,
    .attach = ch_attach,
    .send_begin = ch_send_begin,
    .send_commit = ch_send_commit,
    .recv_begin = ch_recv_begin,
    .recv_end = ch_recv_end,
    .detach = ch_detach,
    .teardown = ch_teardown,
};

const bench_transport bench_t_channel_block = {
    .name = "channel-block",
    .description = "shmipc channel, zero-copy, futex sleep (SHMIPC_WAIT_BLOCK)",
    .caps = BENCH_CAP_ALL,
    .setup = ch_setup_block,
    .attach = ch_attach,
    .send_begin = ch_send_begin,
    .send_commit = ch_send_commit,
    .recv_begin = ch_recv_begin,
    .recv_end = ch_recv_end,
    .detach = ch_detach,
    .teardown = ch_teardown,
};
