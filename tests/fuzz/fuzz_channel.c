/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_channel.c - the channel against hostile bytes: the input is a whole channel segment
 * (segment header, channel header, ring). It is opened as observer (stats), as consumer (recv, peek and
 * release, recv_batch until the ring is empty or an error) and as producer (send, send_batch,
 * reserve/commit/cancel), all with timeout 0. Every call must return a length or an error (-EBADMSG for a
 * corrupt ring, -EAGAIN, -EPIPE, ...), never crash, touch memory outside the segment, or wait.
 */
#include "harness.h"

#include <shmipc/channel.h>

#include <errno.h>
#include <string.h>

#define MAX_STEPS 64

static uint8_t buf[1u << 16];

static void observe(shmipc_segment *seg)
{
    shmipc_channel *ch;
    if (shmipc_channel_open_in(seg, SHMIPC_CHANNEL_OBSERVER, NULL, &ch) == 0) {
        shmipc_channel_stats st;
        shmipc_channel_stats_get(ch, &st);
        shmipc_channel_close(ch);
    }
}

static void consume(shmipc_segment *seg)
{
    shmipc_channel *ch;
    if (shmipc_channel_open_in(seg, SHMIPC_CHANNEL_CONSUMER, NULL, &ch) != 0)
        return;
    for (int i = 0; i < MAX_STEPS; i++) {
        int r;
        switch (i % 4) {
        case 0:
            r = shmipc_channel_recv(ch, buf, sizeof buf, 0);
            break;
        case 1: {
            const void *p;
            r = shmipc_channel_peek(ch, &p, 0);
            if (r >= 0) {
                /* Read the message in place: ASan or a SIGBUS would catch a length beyond the ring. */
                volatile const uint8_t *q = p;
                uint8_t acc = 0;
                for (int k = 0; k < r; k++)
                    acc ^= q[k];
                (void)acc;
                r = shmipc_channel_release(ch);
            }
            break;
        }
        case 2: {
            struct iovec v[4];
            for (int k = 0; k < 4; k++)
                v[k] = (struct iovec){.iov_base = buf + k * 4096, .iov_len = 4096};
            r = shmipc_channel_recv_batch(ch, v, 4, 0);
            break;
        }
        default:
            r = shmipc_channel_recv(ch, buf, 16, 0); /* -EMSGSIZE for longer messages */
            break;
        }
        if (r < 0 && r != -EMSGSIZE)
            break;
    }
    shmipc_channel_dropped(ch);
    shmipc_channel_close(ch);
}

static void produce(shmipc_segment *seg)
{
    shmipc_channel *ch;
    if (shmipc_channel_open_in(seg, SHMIPC_CHANNEL_PRODUCER, NULL, &ch) != 0)
        return;
    memset(buf, 0xa5, 256);
    for (int i = 0; i < MAX_STEPS; i++) {
        int r;
        switch (i % 3) {
        case 0:
            r = shmipc_channel_send(ch, buf, (size_t)(i * 7) % 100, 0);
            break;
        case 1: {
            struct iovec v[3] = {{buf, 1}, {buf, 30}, {buf, 0}};
            r = shmipc_channel_send_batch(ch, v, 3, 0);
            break;
        }
        default: {
            void *p;
            r = shmipc_channel_reserve(ch, 40, &p, 0);
            if (r == 0) {
                memset(p, 0x5a, 40);
                r = (i % 2) ? shmipc_channel_commit(ch, 24) : shmipc_channel_cancel(ch);
            }
            break;
        }
        }
        if (r < 0)
            break;
    }
    shmipc_channel_close(ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return 0;
    shmipc_segment *seg;
    if (fuzz_segment(data, size, SHMIPC_TYPE_CHANNEL, 0, &seg) != 0)
        return 0;
    observe(seg);
    consume(seg);
    produce(seg);
    consume(seg); /* what the producer left, on top of what the input held */
    observe(seg);
    shmipc_segment_close(seg);
    return 0;
}
