/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/fuzz_pubsub.c - publish/subscribe against hostile bytes. A pubsub service is two segments,
 * the main one (headers, participants, publisher and subscriber slots, chunk descriptors, deliver and
 * return connections) and its pool, paired by a nonce; the input is both: a 4-byte little-endian
 * length of the main segment, its bytes, then the pool's bytes, written as "/shmipc.pubsub.<name>"
 * and "<that>.pool". A subscriber connects (taking history) and receives, releases and copies; a publisher loans,
 * publishes, copies and discards; the subscriber receives again; then gc. Receives use timeout 0 and a publish waits at
 * most 1 ms for a full queue. Every call must return a value or an error (-EBADMSG, -EAGAIN, -ENOBUFS, -EUSERS, ...),
 * never crash, touch memory outside the segments, or wait.
 */
#include "harness.h"
#include "service/service_internal.h"

#include <shmipc/pubsub.h>

#include <errno.h>
#include <string.h>

#define MAX_STEPS 24

static uint8_t buf[1u << 16];

static void subscribe(shmipc_pubsub_subscriber *s)
{
    shmipc_pubsub_sample held[2];
    int nheld = 0;
    for (int i = 0; i < MAX_STEPS; i++) {
        int r;
        if (i % 3 == 2) {
            r = shmipc_pubsub_subscriber_receive_copy(s, buf, i % 2 ? sizeof buf : 1, 0, NULL);
        } else {
            shmipc_pubsub_sample smp;
            r = shmipc_pubsub_subscriber_receive(s, &smp, 0);
            if (r == 0) {
                volatile const uint8_t *p = smp.data;
                uint8_t acc = 0;
                for (size_t k = 0; k < smp.size; k++)
                    acc ^= p[k];
                (void)acc;
                if (nheld < 2)
                    held[nheld++] = smp; /* kept: released below, or by close */
                else
                    shmipc_pubsub_subscriber_release(s, &smp);
            }
        }
        if (r == -EAGAIN || r == -EPIPE)
            break;
    }
    if (nheld > 0)
        shmipc_pubsub_subscriber_release(s, &held[0]);
    shmipc_pubsub_subscriber_missed(s);
}

static void publish(shmipc_pubsub_publisher *p)
{
    memset(buf, 0x2f, 256);
    for (int i = 0; i < 6; i++) {
        void *ptr;
        if (shmipc_pubsub_publisher_loan(p, (size_t)i * 8, &ptr) == 0) {
            memset(ptr, i, (size_t)i * 8);
            if (i == 3)
                shmipc_pubsub_publisher_discard(p, ptr);
            else if (shmipc_pubsub_publisher_publish(p, ptr, (size_t)i * 8) == -EINVAL)
                shmipc_pubsub_publisher_publish(p, ptr, 0);
        }
        shmipc_pubsub_publisher_publish_copy(p, buf, (size_t)i * 16);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t main_len;
    if (size > FUZZ_MAX_INPUT || size < sizeof main_len)
        return 0;
    memcpy(&main_len, data, sizeof main_len);
    data += sizeof main_len;
    size -= sizeof main_len;
    if (main_len > size || !fuzz_ready(data, main_len) || !fuzz_ready(data + main_len, size - main_len))
        return 0;
    char name[32], pool[SHMIPC_SERVICE_NAME_MAX + 32];
    if (fuzz_service_named(SHMIPC_PATTERN_PUBSUB, data, main_len, name, sizeof name) != 0 ||
        shmipc__svc_segname(SHMIPC_PATTERN_PUBSUB, name, "pool", pool, sizeof pool) != 0 ||
        fuzz_named(pool, data + main_len, size - main_len) != 0) {
        fuzz_service_drop(SHMIPC_PATTERN_PUBSUB, name);
        return 0;
    }
    shmipc_pubsub_opts o = {.size = sizeof o, .publish_timeout_ms = 1, .wait_mode = SHMIPC_WAIT_SPIN};
    shmipc_pubsub_subscriber *s = NULL;
    shmipc_pubsub_publisher *p = NULL;
    /* The service's payload kind must be asked for: try fixed, then dynamic. */
    if (shmipc_pubsub_subscriber_open(name, &o, &s) == -EPROTOTYPE) {
        o.flags = SHMIPC_PUBSUB_DYNAMIC;
        if (shmipc_pubsub_subscriber_open(name, &o, &s) != 0)
            s = NULL;
    }
    if (s)
        subscribe(s);
    if (shmipc_pubsub_publisher_open(name, &o, &p) == 0) {
        publish(p);
        if (s)
            subscribe(s);
        shmipc_pubsub_publisher_close(p);
    }
    shmipc_pubsub_subscriber_close(s);
    fuzz_service_drop(SHMIPC_PATTERN_PUBSUB, name);
    shmipc_segment_unlink(pool);
    return 0;
}
