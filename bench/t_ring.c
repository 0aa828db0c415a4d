/* SPDX-License-Identifier: MIT */
/*
 * bench/t_ring.c - transport: the simplest single-producer single-consumer ring in shared memory, one per
 * direction, busy-waiting, with no validation, no crash safety and no wake-ups. It is the reference for
 * "a bare ring": what a ring costs before anything that makes it safe to share with other processes.
 */
#include "bench.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>

#define RING_BYTES (8u << 20) /* slots per direction: as many as fit, 2 to 1024 */
#define RING_MAX_SLOTS 1024u

typedef struct ring_hdr {
    /* Written by the producer only: release after the slot is written, so the consumer's acquire load
     * sees the slot's contents. */
    _Alignas(64) _Atomic uint64_t tail;
    /* Written by the consumer only: release after it has finished reading the slot, so the producer's
     * acquire load never lets it overwrite a slot still being read. Own line: no false sharing. */
    _Alignas(64) _Atomic uint64_t head;
} ring_hdr;
_Static_assert(sizeof(ring_hdr) == 128, "head and tail on separate cache lines");

typedef struct ring_state {
    unsigned char *map;
    size_t map_len, stride, slot_size;
    uint64_t nslots;
    /* Private to each process: the producer's view of its ring and the consumer's view of its ring. */
    uint64_t tail, head_cache; /* as producer */
    uint64_t head, tail_cache; /* as consumer */
} ring_state;

static ring_hdr *ring_of(ring_state *s, int d) { return (ring_hdr *)(void *)(s->map + (size_t)d * s->stride); }
static unsigned char *slot_of(ring_state *s, int d, uint64_t i)
{
    return s->map + (size_t)d * s->stride + sizeof(ring_hdr) + (size_t)(i & (s->nslots - 1)) * s->slot_size;
}

static int ring_setup(bench_ctx *ctx)
{
    ring_state *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    ctx->priv = s;
    s->slot_size = (ctx->size + 63) & ~(size_t)63;
    s->nslots = 2;
    while (s->nslots < RING_MAX_SLOTS && s->nslots * 2 * s->slot_size <= RING_BYTES)
        s->nslots *= 2;
    s->stride = (sizeof(ring_hdr) + s->nslots * s->slot_size + 4095) & ~(size_t)4095;
    /* Streaming uses only the first direction; ping-pong both. */
    s->map_len = (ctx->mode == BENCH_THROUGHPUT ? 1 : 2) * s->stride;
    s->map = bench_map_shared(s->map_len);
    return s->map ? 0 : -ENOMEM;
}

static int ring_send_begin(bench_ctx *ctx, size_t len, void **out)
{
    ring_state *s = ctx->priv;
    int d = ctx->role == 0 ? 0 : 1;
    ring_hdr *r = ring_of(s, d);
    uint64_t spins = 0;
    while (s->tail - s->head_cache >= s->nslots) {
        s->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        if (s->tail - s->head_cache < s->nslots)
            break;
        int err = bench_spin(ctx, &spins);
        if (err)
            return err;
    }
    *out = slot_of(s, d, s->tail);
    return 0;
}

static int ring_send_commit(bench_ctx *ctx, size_t len)
{
    ring_state *s = ctx->priv;
    atomic_store_explicit(&ring_of(s, ctx->role == 0 ? 0 : 1)->tail, ++s->tail, memory_order_release);
    return 0;
}

static int ring_recv_begin(bench_ctx *ctx, size_t len, const void **out)
{
    ring_state *s = ctx->priv;
    int d = ctx->role == 0 ? 1 : 0;
    ring_hdr *r = ring_of(s, d);
    uint64_t spins = 0;
    while (s->head == s->tail_cache) {
        s->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (s->head != s->tail_cache)
            break;
        int err = bench_spin(ctx, &spins);
        if (err)
            return err;
    }
    *out = slot_of(s, d, s->head);
    return 0;
}

static int ring_recv_end(bench_ctx *ctx, size_t len)
{
    ring_state *s = ctx->priv;
    atomic_store_explicit(&ring_of(s, ctx->role == 0 ? 1 : 0)->head, ++s->head, memory_order_release);
    return 0;
}

static void ring_teardown(bench_ctx *ctx)
{
    ring_state *s = ctx->priv;
    if (!s)
        return;
    if (s->map)
        munmap(s->map, s->map_len);
    free(s);
    ctx->priv = NULL;
}

const bench_transport bench_t_ring = {
    .name = "ring",
    .description = "bare SPSC ring in shared memory, busy-wait (the reference ring)",
    .caps = BENCH_CAP_ALL,
    .spins = true,
    .setup = ring_setup,
    .send_begin = ring_send_begin,
    .send_commit = ring_send_commit,
    .recv_begin = ring_recv_begin,
    .recv_end = ring_recv_end,
    .teardown = ring_teardown,
};
