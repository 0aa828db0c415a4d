/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_queue.c - the MPMC queue against hostile bytes: the input is a whole queue segment
 * (segment header, queue header, participant table, slots). It is attached as an observer (stats) and as
 * two registered handles (which reclaims dead participants' entries and repairs their slots), then used:
 * push, pop, zero-copy claims, stats, all with timeout 0. Every call must return a value or an error
 * (-EBADMSG for corruption, -EAGAIN, -EUSERS, ...), never crash, touch memory outside the segment, or wait.
 */
#include "harness.h"

#include <shmipc/queue.h>

#include <errno.h>
#include <string.h>

#define MAX_STEPS 48

static uint8_t buf[1u << 16];

static void use(shmipc_queue *a, shmipc_queue *b)
{
    memset(buf, 0x3c, 64);
    for (int i = 0; i < MAX_STEPS; i++) {
        shmipc_queue *q = (i & 1) && b ? b : a;
        shmipc_queue_claim c;
        int r;
        switch (i % 6) {
        case 0:
            r = shmipc_queue_pop(q, buf, sizeof buf, 0);
            break;
        case 1:
            r = shmipc_queue_pop(q, buf, 4, 0); /* -EMSGSIZE for longer messages */
            break;
        case 2:
            r = shmipc_queue_pop_claim(q, &c, 0);
            if (r >= 0) {
                volatile const uint8_t *p = c.data;
                uint8_t acc = 0;
                for (size_t k = 0; k < c.len; k++)
                    acc ^= p[k];
                (void)acc;
                r = shmipc_queue_pop_release(q, &c);
            }
            break;
        case 3:
            r = shmipc_queue_push(q, buf, (size_t)i % 24, 0);
            break;
        case 4:
            r = shmipc_queue_push_claim(q, &c, 0);
            if (r == 0) {
                memset(c.data, 0x11, c.len);
                r = shmipc_queue_push_commit(q, &c, c.len / 2);
            }
            break;
        default: {
            shmipc_queue_stats st;
            r = shmipc_queue_stats_get(q, &st);
            break;
        }
        }
        if (r == -EBADMSG)
            break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    shmipc_segment *seg;
    if (fuzz_segment(data, size, SHMIPC_TYPE_QUEUE, 0, &seg) != 0)
        return 0;
    shmipc_queue_opts o = {.size = sizeof o, .wait_mode = SHMIPC_WAIT_SPIN, .flags = SHMIPC_QUEUE_OBSERVE};
    shmipc_queue *obs = NULL, *a = NULL, *b = NULL;
    shmipc_queue_stats st;
    if (shmipc_queue_open_in(seg, &o, &obs) == 0)
        shmipc_queue_stats_get(obs, &st);
    o.flags = 0;
    if (shmipc_queue_open_in(seg, &o, &a) == 0) {
        if (shmipc_queue_open_in(seg, &o, &b) != 0)
            b = NULL;
        use(a, b);
        shmipc_queue_close(b);
        shmipc_queue_close(a);
    }
    if (obs) {
        shmipc_queue_stats_get(obs, &st);
        shmipc_queue_close(obs);
    }
    shmipc_segment_close(seg);
    return 0;
}
