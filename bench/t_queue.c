/* SPDX-License-Identifier: MIT */
/*
 * bench/t_queue.c - transports: shmipc's bounded MPMC queue (include/shmipc/queue.h), one per direction,
 * in place (push_claim/push_commit, pop_claim/pop_release), busy-polling (queue-spin) or spinning then
 * sleeping (queue-hybrid, its default).
 * Used here with one producer and one consumer, so the numbers show what its multi-producer protocol
 * costs over the channel. The parent creates both queues by name; the child opens them by name.
 */
#include "bench.h"

#include <shmipc/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define QUEUE_BYTES (8u << 20) /* slots per queue: as many as fit, 2 to 1024 */

typedef struct q_state {
    char name[2][64];    /* [0]: parent -> child, [1]: child -> parent */
    shmipc_queue *q[2];  /* this process's handles */
    shmipc_queue_claim tx, rx; /* the slot being written and the one being read */
    shmipc_wait_mode wait;
    int timeout;           /* ms, for every call: bench_timeout_ms() at attach */
} q_state;

static void q_teardown(bench_ctx *ctx)
{
    q_state *s = ctx->priv;
    if (!s)
        return;
    for (int d = 0; d < 2; d++) {
        shmipc_queue_close(s->q[d]);
        if (s->name[d][0])
            shmipc_queue_unlink(s->name[d]);
    }
    free(s);
    ctx->priv = NULL;
}

static int q_setup(bench_ctx *ctx, shmipc_wait_mode wait)
{
    q_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    s->wait = wait;
    if (ctx->size > SHMIPC_QUEUE_MAX_SLOT_SIZE) {
        snprintf(ctx->why, sizeof ctx->why, "limit %u B: SHMIPC_QUEUE_MAX_SLOT_SIZE", SHMIPC_QUEUE_MAX_SLOT_SIZE);
        return -EMSGSIZE;
    }
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.slot_size = (uint32_t)ctx->size;
    o.slot_count = 2;
    while (o.slot_count < 1024 && (size_t)o.slot_count * 2 * ctx->size <= QUEUE_BYTES)
        o.slot_count *= 2;
    o.wait_mode = wait;
    int ndirs = ctx->mode == BENCH_THROUGHPUT ? 1 : 2;
    for (int d = 0; d < ndirs; d++) {
        snprintf(s->name[d], sizeof s->name[d], "/shmipc-bench-q-%d-%d", (int)getpid(), d);
        shmipc_queue_unlink(s->name[d]);
        int err = shmipc_queue_create(s->name[d], &o, &s->q[d]);
        if (err) {
            s->name[d][0] = '\0';
            if (err == -EINVAL) {
                snprintf(ctx->why, sizeof ctx->why, "slot_size %zu B refused by shmipc_queue_create", ctx->size);
                return -EMSGSIZE;
            }
            return err;
        }
    }
    return 0;
}

static int q_setup_spin(bench_ctx *ctx) { return q_setup(ctx, SHMIPC_WAIT_SPIN); }
static int q_setup_hybrid(bench_ctx *ctx) { return q_setup(ctx, SHMIPC_WAIT_HYBRID); }

static int q_attach(bench_ctx *ctx)
{
    q_state *s = ctx->priv;
    s->timeout = bench_timeout_ms(ctx);
    if (ctx->role == 0)
        return 0;
    /* The copied handles are the parent's registration: leave them, register this process's own. */
    s->q[0] = s->q[1] = NULL;
    shmipc_queue_opts o;
    shmipc_queue_opts_init(&o);
    o.wait_mode = s->wait;
    for (int d = 0; d < 2; d++) {
        if (!s->name[d][0])
            continue;
        int err = shmipc_queue_open(s->name[d], &o, &s->q[d]);
        if (err)
            return err;
    }
    return 0;
}

static int q_send_begin(bench_ctx *ctx, size_t len, void **out)
{
    q_state *s = ctx->priv;
    int err = shmipc_queue_push_claim(s->q[ctx->role == 0 ? 0 : 1], &s->tx, s->timeout);
    if (err)
        return err;
    *out = s->tx.data;
    return s->tx.len >= len ? 0 : -EMSGSIZE;
}

static int q_send_commit(bench_ctx *ctx, size_t len)
{
    q_state *s = ctx->priv;
    return shmipc_queue_push_commit(s->q[ctx->role == 0 ? 0 : 1], &s->tx, len);
}

static int q_recv_begin(bench_ctx *ctx, size_t len, const void **out)
{
    q_state *s = ctx->priv;
    int n = shmipc_queue_pop_claim(s->q[ctx->role == 0 ? 1 : 0], &s->rx, s->timeout);
    if (n < 0)
        return n;
    *out = s->rx.data;
    return (size_t)n == len ? 0 : -EBADMSG;
}

static int q_recv_end(bench_ctx *ctx, size_t len)
{
    q_state *s = ctx->priv;
    return shmipc_queue_pop_release(s->q[ctx->role == 0 ? 1 : 0], &s->rx);
}

static void q_detach(bench_ctx *ctx)
{
    q_state *s = ctx->priv;
    if (ctx->role == 0)
        return;
    for (int d = 0; d < 2; d++) {
        shmipc_queue_close(s->q[d]);
        s->q[d] = NULL;
    }
}

const bench_transport bench_t_queue_spin = {
    .name = "queue-spin",
    .description = "shmipc MPMC queue used 1:1, zero-copy claims, busy-poll (SHMIPC_WAIT_SPIN)",
    .caps = BENCH_CAP_ALL,
    .spins = true,
    .setup = q_setup_spin,
    .attach = q_attach,
    .send_begin = q_send_begin,
    .send_commit = q_send_commit,
    .recv_begin = q_recv_begin,
    .recv_end = q_recv_end,
    .detach = q_detach,
    .teardown = q_teardown,
};

const bench_transport bench_t_queue_hybrid = {
    .name = "queue-hybrid",
    .description = "shmipc MPMC queue used 1:1, zero-copy claims, spin then sleep (SHMIPC_WAIT_HYBRID)",
    .caps = BENCH_CAP_ALL,
    .setup = q_setup_hybrid,
    .attach = q_attach,
    .send_begin = q_send_begin,
    .send_commit = q_send_commit,
    .recv_begin = q_recv_begin,
    .recv_end = q_recv_end,
    .detach = q_detach,
    .teardown = q_teardown,
};
