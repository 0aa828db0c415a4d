/* SPDX-License-Identifier: MIT */
/*
 * bench/t_pubsub.c - transports: shmipc's zero-copy publish/subscribe (include/shmipc/pubsub.h), used the
 * way an application uses it: the sender loans a chunk, the driver writes the payload in place, the
 * sender publishes; the receiver gets a read-only view of the same chunk, the driver reads it in place,
 * the receiver releases it. Nothing is copied whatever the size.
 *
 * Latency uses two services, one per direction ("down": parent publishes, every receiver subscribes;
 * "up": every receiver publishes, the parent subscribes), so that both legs of the round trip are
 * pub/sub and the figure is pub/sub's own, not half a channel's. Fan-out (pubsub-x1/x2/x4/x8): N
 * subscribers on "down", and the parent waits for all N replies on "up", so a round trip ends when the
 * last subscriber has the sample; latency is that / 2. Throughput streams on "down" with the publisher
 * waiting for room (SHMIPC_PUBSUB_WAIT), since the driver requires every message delivered in order.
 *
 * pubsub-notouch is the same mechanism with the driver writing and reading only the payload's first
 * line: the cost of the loan/publish/receive/release mechanism itself, which does not depend on the size.
 */
#include "bench.h"

#include <shmipc/pubsub.h>
#include <shmipc/service.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct ps_state {
    char name[2][64];            /* [0]: down (parent -> receivers), [1]: up (receivers -> parent) */
    shmipc_pubsub_publisher *pub;       /* this process's publisher: on down (parent) or up (receiver) */
    shmipc_pubsub_subscriber *sub;      /* this process's subscriber: on up (parent) or down (receiver) */
    shmipc_pubsub_sample held;          /* the sample between recv_begin and recv_end */
    void *loan;                  /* the chunk between send_begin and send_commit */
    shmipc_wait_mode wait;
    unsigned fanout;
    int timeout;                 /* ms, for every call: bench_timeout_ms() at attach */
} ps_state;

static void ps_opts(const bench_ctx *ctx, const ps_state *s, int dir, shmipc_pubsub_opts *o)
{
    shmipc_pubsub_opts_init(o);
    o->payload_size = ctx->size;
    o->payload_align = 64;
    /* Down: one publisher, fanout subscribers. Up: fanout publishers (+1 for the parent's creator
     * handle, closed at once), one subscriber. */
    o->max_publishers = dir == 0 ? 1 : s->fanout + 1;
    o->max_subscribers = dir == 0 ? s->fanout : 1;
    /* Up carries at most fanout replies at once; down streams, so a deeper queue lets the publisher
     * run ahead. Large payloads keep the pool within a few times 4 MiB per subscriber. */
    if (dir == 1) {
        o->depth = s->fanout < 8 ? 8 : s->fanout;
    } else {
        /* As much buffered data as a channel's default ring (64 KiB): 1024 samples of 64 B, 16 of 4 KiB;
         * at least 4 (1 MiB samples), at most 1024. */
        uint64_t d = (64u << 10) / (ctx->size ? ctx->size : 1);
        o->depth = d < 4 ? 4 : d > 1024 ? 1024 : (uint32_t)d;
    }
    o->max_loans = 2;
    o->max_held = 2;
    o->policy = SHMIPC_PUBSUB_WAIT;
    o->publish_timeout_ms = bench_timeout_ms(ctx);
    o->wait_mode = s->wait;
}

static void ps_teardown(bench_ctx *ctx)
{
    ps_state *s = ctx->priv;
    if (!s)
        return;
    shmipc_pubsub_publisher_close(s->pub);
    shmipc_pubsub_subscriber_close(s->sub);
    for (int d = 0; d < 2; d++)
        if (s->name[d][0])
            shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, s->name[d], 0, NULL);
    free(s);
    ctx->priv = NULL;
}

static int ps_setup(bench_ctx *ctx, shmipc_wait_mode wait, unsigned fanout)
{
    ps_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    s->wait = wait;
    s->fanout = fanout;
    ctx->nreceivers = fanout;
    int ndirs = ctx->mode == BENCH_THROUGHPUT ? 1 : 2;
    for (int d = 0; d < ndirs; d++) {
        snprintf(s->name[d], sizeof s->name[d], "shmipc-bench-ps-%d-%d", (int)getpid(), d);
        shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, s->name[d], 0, NULL);
        shmipc_pubsub_opts o;
        ps_opts(ctx, s, d, &o);
        shmipc_pubsub_publisher *p;
        int err = shmipc_pubsub_publisher_create(s->name[d], &o, &p);
        if (err) {
            s->name[d][0] = '\0';
            snprintf(ctx->why, sizeof ctx->why, "publisher_create: %s", shmipc_service_error_detail());
            return err;
        }
        if (d == 0) {
            s->pub = p;
            continue;
        }
        /* Up: the parent subscribes before any receiver publishes; the creating publisher only made the
         * service exist and leaves at once (the service stays while the subscriber uses it). */
        err = shmipc_pubsub_subscriber_open(s->name[1], &o, &s->sub);
        shmipc_pubsub_publisher_close(p);
        if (err)
            return err;
    }
    return 0;
}

static int ps_setup_hybrid(bench_ctx *ctx) { return ps_setup(ctx, SHMIPC_WAIT_HYBRID, 1); }
static int ps_setup_spin(bench_ctx *ctx) { return ps_setup(ctx, SHMIPC_WAIT_SPIN, 1); }
/* Fan-out runs in blocking mode: with more processes than cores, spinning receivers would steal the
 * CPU the others need. */
static int ps_setup_x1(bench_ctx *ctx) { return ps_setup(ctx, SHMIPC_WAIT_BLOCK, 1); }
static int ps_setup_x2(bench_ctx *ctx) { return ps_setup(ctx, SHMIPC_WAIT_BLOCK, 2); }
static int ps_setup_x4(bench_ctx *ctx) { return ps_setup(ctx, SHMIPC_WAIT_BLOCK, 4); }
static int ps_setup_x8(bench_ctx *ctx) { return ps_setup(ctx, SHMIPC_WAIT_BLOCK, 8); }

static int ps_attach(bench_ctx *ctx)
{
    ps_state *s = ctx->priv;
    s->timeout = bench_timeout_ms(ctx);
    if (ctx->role == 0)
        return 0;
    /* The handles copied from the parent belong to it: leave them alone and open this process's own,
     * as an unrelated process would. */
    s->pub = NULL;
    s->sub = NULL;
    shmipc_pubsub_opts o;
    ps_opts(ctx, s, 0, &o);
    int err = shmipc_pubsub_subscriber_open(s->name[0], &o, &s->sub);
    if (err || !s->name[1][0])
        return err;
    ps_opts(ctx, s, 1, &o);
    return shmipc_pubsub_publisher_open(s->name[1], &o, &s->pub);
}

static int ps_send_begin(bench_ctx *ctx, size_t len, void **out)
{
    ps_state *s = ctx->priv;
    int err = shmipc_pubsub_publisher_loan(s->pub, len, &s->loan);
    *out = s->loan;
    return err;
}

static int ps_send_commit(bench_ctx *ctx, size_t len)
{
    ps_state *s = ctx->priv;
    /* It returns the number of subscribers reached: a sample that reached fewer than all would show up
     * as a receiver timing out, so only errors matter here. */
    int n = shmipc_pubsub_publisher_publish(s->pub, s->loan, len);
    return n < 0 ? n : 0;
}

static int ps_recv_begin(bench_ctx *ctx, size_t len, const void **out)
{
    ps_state *s = ctx->priv;
    int err = shmipc_pubsub_subscriber_receive(s->sub, &s->held, s->timeout);
    if (err)
        return err;
    *out = s->held.data;
    if (s->held.size != len) {
        shmipc_pubsub_subscriber_release(s->sub, &s->held);
        return -EBADMSG;
    }
    return 0;
}

static int ps_recv_end(bench_ctx *ctx, size_t len)
{
    ps_state *s = ctx->priv;
    (void)len;
    return shmipc_pubsub_subscriber_release(s->sub, &s->held);
}

static void ps_detach(bench_ctx *ctx)
{
    ps_state *s = ctx->priv;
    if (ctx->role == 0)
        return; /* teardown closes the parent's handles */
    shmipc_pubsub_subscriber_close(s->sub);
    shmipc_pubsub_publisher_close(s->pub);
    s->sub = NULL;
    s->pub = NULL;
}

#define PS_VTABLE .caps = BENCH_CAP_ALL, .attach = ps_attach, .send_begin = ps_send_begin, \
    .send_commit = ps_send_commit, .recv_begin = ps_recv_begin, .recv_end = ps_recv_end, .detach = ps_detach, \
    .teardown = ps_teardown

const bench_transport bench_t_pubsub = {
    .name = "pubsub",
    .description = "shmipc pub/sub, zero-copy loan/publish, spin then sleep (hybrid); one service per direction",
    .setup = ps_setup_hybrid,
    PS_VTABLE,
};

const bench_transport bench_t_pubsub_spin = {
    .name = "pubsub-spin",
    .description = "shmipc pub/sub, zero-copy, busy-poll (SHMIPC_WAIT_SPIN)",
    .spins = true,
    .setup = ps_setup_spin,
    PS_VTABLE,
};

const bench_transport bench_t_pubsub_notouch = {
    .name = "pubsub-notouch",
    .description = "pubsub with only the first 64 B line written and read: the mechanism's own cost",
    .touch_first_line = true,
    .setup = ps_setup_hybrid,
    PS_VTABLE,
};

const bench_transport bench_t_pubsub_x1 = {
    .name = "pubsub-x1",
    .description = "fan-out: pubsub to 1 subscriber (blocking), the base of the fan-out table",
    .family = "pubsub",
    .fanout = 1,
    .setup = ps_setup_x1,
    PS_VTABLE,
};

const bench_transport bench_t_pubsub_x2 = {
    .name = "pubsub-x2",
    .description = "fan-out: pubsub to 2 subscribers (blocking), until the last has it",
    .family = "pubsub",
    .fanout = 2,
    .setup = ps_setup_x2,
    PS_VTABLE,
};

const bench_transport bench_t_pubsub_x4 = {
    .name = "pubsub-x4",
    .description = "fan-out: pubsub to 4 subscribers (blocking), until the last has it",
    .family = "pubsub",
    .fanout = 4,
    .setup = ps_setup_x4,
    PS_VTABLE,
};

const bench_transport bench_t_pubsub_x8 = {
    .name = "pubsub-x8",
    .description = "fan-out: pubsub to 8 subscribers (blocking), until the last has it",
    .family = "pubsub",
    .fanout = 8,
    .setup = ps_setup_x8,
    PS_VTABLE,
};
