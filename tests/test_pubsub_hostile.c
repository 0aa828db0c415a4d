/* SPDX-License-Identifier: MIT */
/*
 * tests/test_pubsub_hostile.c - publish/subscribe against what a careless or hostile caller or peer
 * does: empty samples through the copying calls with NULL buffers (allowed for length 0; memcpy must
 * never be handed the NULL), and a live owner id or garbage written into every word of the pattern area
 * holding neither publish nor receive past its timeout plus one wait slice.
 */
#include "helpers.h"
#include "pubsub/pubsub_internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void empty_samples_with_null_buffers(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "ph-%d-empty", (int)getpid());
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.payload_size = 64;
    shmipc_pubsub_publisher *pub;
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, NULL, 0), 1);
    shmipc_pubsub_sample info;
    assert_int_equal(shmipc_pubsub_subscriber_receive_copy(sub, NULL, 0, 1000, &info), 0);
    assert_int_equal(info.size, 0);
    assert_int_equal(shmipc_pubsub_publisher_publish_copy(pub, "abc", 3), 1);
    assert_int_equal(shmipc_pubsub_subscriber_receive_copy(sub, NULL, 0, 1000, &info), -EMSGSIZE);
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, NULL); /* unlinks both segments */
}

/* Fill every 8-byte word of the pattern area after the header (subscriber and publisher slots, chunk
 * descriptors, connections) with v, then check that bounded calls return within timeout + one slice. */
static void scribbled_with(uint64_t v, shmipc_pubsub_policy pol)
{
    char name[64];
    static int n;
    snprintf(name, sizeof name, "hs-%d-%d", (int)getpid(), n++);
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.payload_size = 64;
    o.history = 2;
    o.policy = pol;
    o.publish_timeout_ms = 100;
    shmipc_pubsub_publisher *pub;
    shmipc_pubsub_subscriber *sub;
    assert_int_equal(shmipc_pubsub_publisher_create(name, &o, &pub), 0);
    assert_int_equal(shmipc_pubsub_subscriber_open(name, NULL, &sub), 0);
    char buf[64] = {1};
    assert_true(shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf) >= 0);
    _Atomic uint64_t *w = (_Atomic uint64_t *)(pub->ps.area + sizeof(shmipc__ps_hdr));
    size_t words = (pub->ps.l.size - sizeof(shmipc__ps_hdr)) / 8;
    for (size_t i = 0; i < words; i++)
        atomic_store_explicit(&w[i], v, memory_order_relaxed);
    for (int round = 0; round < 3; round++) {
        uint64_t t0 = test_now_ms();
        int r = shmipc_pubsub_publisher_publish_copy(pub, buf, sizeof buf);
        assert_true(test_now_ms() - t0 < 100 + 20 + 200); /* timeout + one slice + scheduling slack */
        (void)r;
        t0 = test_now_ms();
        r = shmipc_pubsub_subscriber_receive_copy(sub, buf, sizeof buf, 50, NULL);
        assert_true(test_now_ms() - t0 < 50 + 20 + 200);
        assert_true(r == 64 || r < 0);
    }
    shmipc_pubsub_subscriber_close(sub);
    shmipc_pubsub_publisher_close(pub);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, NULL);
}

static void scribbled_words_cannot_hold_calls(void **state)
{
    (void)state;
    uint64_t live = shmipc__owner_self();
    scribbled_with(live, SHMIPC_PUBSUB_WAIT);
    scribbled_with(live, SHMIPC_PUBSUB_DROP_OLDEST);
    scribbled_with(UINT64_MAX, SHMIPC_PUBSUB_WAIT);
    scribbled_with(UINT64_C(0x0000000100000001), SHMIPC_PUBSUB_DROP_OLDEST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_samples_with_null_buffers),
        cmocka_unit_test(scribbled_words_cannot_hold_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
