/* SPDX-License-Identifier: MIT */
/*
 * tests/queue_test_msg.h - the self-checking messages the many-producer queue tests send: producer id,
 * sequence number, a padding of varying length derived from both, and a checksum over all of it, plus the
 * bookkeeping a consumer keeps (per-producer order, exactly-once counts).
 */
#ifndef SHMIPC_QUEUE_TEST_MSG_H
#define SHMIPC_QUEUE_TEST_MSG_H

#include "helpers.h"

#include <shmipc/queue.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct qmsg_head {
    uint32_t producer;
    uint32_t seq;
    uint64_t checksum;
} qmsg_head;

static inline uint64_t qmsg_seed(uint32_t producer, uint32_t seq) { return (uint64_t)producer << 32 | seq; }

static inline uint64_t qmsg_sum(const unsigned char *p, size_t len, uint64_t seed)
{
    uint64_t h = seed ^ 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ len;
}

/* Build message (producer, seq) into buf (capacity >= max_len, max_len >= sizeof(qmsg_head)); returns its
 * length. */
static inline size_t qmsg_make(unsigned char *buf, size_t max_len, uint32_t producer, uint32_t seq)
{
    size_t pad = (seq * 7u + producer) % (max_len - sizeof(qmsg_head) + 1);
    qmsg_head h = {.producer = producer, .seq = seq};
    test_fill(buf + sizeof h, pad, qmsg_seed(producer, seq));
    h.checksum = qmsg_sum(buf + sizeof h, pad, qmsg_seed(producer, seq));
    memcpy(buf, &h, sizeof h);
    return sizeof h + pad;
}

/*
 * What the consumers of one test share (in memory shared by fork, or by threads): how often each
 * (producer, seq) arrived, how many arrived in all, and how many were malformed or out of order.
 */
typedef struct qmsg_board {
    uint32_t producers, per_producer;
    _Atomic uint64_t received;
    _Atomic uint64_t bad;
    _Atomic uint8_t seen[]; /* producers * per_producer */
} qmsg_board;

static inline size_t qmsg_board_size(uint32_t producers, uint32_t per_producer)
{
    return sizeof(qmsg_board) + (size_t)producers * per_producer;
}

/* Check a received message against the board; last[] is the consumer's own last seq per producer
 * (initialised to -1). */
static inline void qmsg_accept(qmsg_board *b, const unsigned char *buf, int len, int64_t *last)
{
    qmsg_head h;
    if (len < (int)sizeof h) {
        atomic_fetch_add(&b->bad, 1);
        return;
    }
    memcpy(&h, buf, sizeof h);
    size_t pad = (size_t)len - sizeof h;
    if (h.producer >= b->producers || h.producer >= 64 || h.seq >= b->per_producer ||
        qmsg_sum(buf + sizeof h, pad, qmsg_seed(h.producer, h.seq)) != h.checksum ||
        (int64_t)h.seq <= last[h.producer]) {
        atomic_fetch_add(&b->bad, 1);
        return;
    }
    last[h.producer] = h.seq;
    atomic_fetch_add(&b->seen[(size_t)h.producer * b->per_producer + h.seq], 1);
    atomic_fetch_add(&b->received, 1);
}

/*
 * A consumer's loop: pop and check messages until all have arrived or *stop (may be NULL) is set, and the
 * queue then stays empty for idle_ms. Returns 0 or the first error of pop other than -ETIMEDOUT.
 */
static inline int qmsg_consume(shmipc_queue *q, qmsg_board *b, int idle_ms, _Atomic int *stop, bool zero_copy)
{
    unsigned char buf[256];
    int64_t last[64];
    for (size_t i = 0; i < 64; i++)
        last[i] = -1;
    uint64_t want = (uint64_t)b->producers * b->per_producer;
    for (;;) {
        int n;
        if (zero_copy) {
            shmipc_queue_claim c;
            n = shmipc_queue_pop_claim(q, &c, idle_ms);
            if (n >= 0) {
                qmsg_accept(b, c.data, n, last);
                if (shmipc_queue_pop_release(q, &c))
                    return -EINVAL;
                continue;
            }
        } else {
            n = shmipc_queue_pop(q, buf, sizeof buf, idle_ms);
        }
        if (n >= 0)
            qmsg_accept(b, buf, n, last);
        else if (n != -ETIMEDOUT)
            return n;
        else if (atomic_load(&b->received) >= want || (stop && atomic_load(stop)))
            return 0;
    }
}

/* Every message of every producer arrived exactly once, intact and in order. */
static inline void qmsg_board_expect_all(qmsg_board *b)
{
    size_t total = (size_t)b->producers * b->per_producer;
    assert_int_equal(atomic_load(&b->bad), 0);
    assert_int_equal(atomic_load(&b->received), total);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(atomic_load(&b->seen[i]), 1);
}

#endif
