/* SPDX-License-Identifier: MIT */
/*
 * bench/t_pipe_fan.c - transports: fan-out 1 -> N over pipes, the kernel baseline of pub/sub's fan-out
 * table. The sender writes every message into N pipes, one per receiver (the kernel copies it N times);
 * in latency mode each receiver answers on its own pipe back and the round trip ends when the sender has
 * read all N answers.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct pf_state {
    int down[BENCH_MAX_RECEIVERS][2]; /* parent -> receiver k: [0] read end, [1] write end */
    int up[BENCH_MAX_RECEIVERS][2];   /* receiver k -> parent */
    unsigned n;
    unsigned next; /* parent: the receiver whose answer is read next */
} pf_state;

static void pf_close_all(pf_state *s, int keep_role)
{
    for (unsigned k = 0; k < s->n; k++)
        for (int e = 0; e < 2; e++) {
            /* A receiver (role k+1) keeps the read end of its down pipe and the write end of its up
             * pipe; the parent the other ends of every pipe; keep_role -1 closes everything. */
            bool keep_down = keep_role == 0 ? e == 1 : keep_role == (int)k + 1 && e == 0;
            bool keep_up = keep_role == 0 ? e == 0 : keep_role == (int)k + 1 && e == 1;
            if (!keep_down && s->down[k][e] >= 0) {
                close(s->down[k][e]);
                s->down[k][e] = -1;
            }
            if (!keep_up && s->up[k][e] >= 0) {
                close(s->up[k][e]);
                s->up[k][e] = -1;
            }
        }
}

static void pf_teardown(bench_ctx *ctx)
{
    pf_state *s = ctx->priv;
    if (!s)
        return;
    pf_close_all(s, -1);
    free(s);
    ctx->priv = NULL;
}

static int pf_setup(bench_ctx *ctx, unsigned n)
{
    pf_state *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    s->n = n;
    s->next = 0;
    for (unsigned k = 0; k < BENCH_MAX_RECEIVERS; k++)
        s->down[k][0] = s->down[k][1] = s->up[k][0] = s->up[k][1] = -1;
    ctx->nreceivers = n;
    for (unsigned k = 0; k < n; k++) {
        if (pipe2(s->down[k], O_CLOEXEC) < 0 || pipe2(s->up[k], O_CLOEXEC) < 0)
            return -errno;
        /* As for the pipe transport: a bigger buffer lets streaming run ahead; failure keeps 64 KiB. */
        (void)fcntl(s->down[k][1], F_SETPIPE_SZ, 1 << 20);
    }
    return 0;
}

static int pf_attach(bench_ctx *ctx)
{
    pf_close_all(ctx->priv, ctx->role);
    return 0;
}

static int pf_send(bench_ctx *ctx, const void *buf, size_t len)
{
    pf_state *s = ctx->priv;
    if (ctx->role != 0)
        return bench_write_full(s->up[ctx->role - 1][1], buf, len);
    for (unsigned k = 0; k < s->n; k++) {
        int err = bench_write_full(s->down[k][1], buf, len);
        if (err)
            return err;
    }
    return 0;
}

static int pf_recv(bench_ctx *ctx, void *buf, size_t len)
{
    pf_state *s = ctx->priv;
    if (ctx->role != 0)
        return bench_read_full(s->down[ctx->role - 1][0], buf, len);
    /* The driver reads one answer per receiver in a row: take them in receiver order. */
    unsigned k = s->next;
    s->next = (k + 1) % s->n;
    return bench_read_full(s->up[k][0], buf, len);
}

static void pf_detach(bench_ctx *ctx)
{
    if (ctx->role != 0)
        pf_close_all(ctx->priv, -1);
}

static int pf_setup_x1(bench_ctx *ctx) { return pf_setup(ctx, 1); }
static int pf_setup_x2(bench_ctx *ctx) { return pf_setup(ctx, 2); }
static int pf_setup_x4(bench_ctx *ctx) { return pf_setup(ctx, 4); }
static int pf_setup_x8(bench_ctx *ctx) { return pf_setup(ctx, 8); }

#define PF_VTABLE .caps = BENCH_CAP_LATENCY | BENCH_CAP_THROUGHPUT, .family = "pipe", .attach = pf_attach, \
    .send = pf_send, .recv = pf_recv, .detach = pf_detach, .teardown = pf_teardown

const bench_transport bench_t_pipe_x1 = {
    .name = "pipe-x1",
    .description = "fan-out: one pipe per receiver, 1 receiver (the base of the fan-out table)",
    .fanout = 1,
    .setup = pf_setup_x1,
    PF_VTABLE,
};

const bench_transport bench_t_pipe_x2 = {
    .name = "pipe-x2",
    .description = "fan-out: the sender writes each message into 2 pipes",
    .fanout = 2,
    .setup = pf_setup_x2,
    PF_VTABLE,
};

const bench_transport bench_t_pipe_x4 = {
    .name = "pipe-x4",
    .description = "fan-out: the sender writes each message into 4 pipes",
    .fanout = 4,
    .setup = pf_setup_x4,
    PF_VTABLE,
};

const bench_transport bench_t_pipe_x8 = {
    .name = "pipe-x8",
    .description = "fan-out: the sender writes each message into 8 pipes",
    .fanout = 8,
    .setup = pf_setup_x8,
    PF_VTABLE,
};
