/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review2_pubsub.c - review findings on publish/subscribe: empty samples through the copying
 * calls with NULL buffers (allowed for length 0; memcpy must never be handed the NULL).
 */
#include "helpers.h"
#include "pubsub/pubsub_internal.h"

#include <stdio.h>
#include <unistd.h>

static void empty_samples_with_null_buffers(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "r2-%d-empty", (int)getpid());
    shmipc_pubsub_opts o;
    shmipc_pubsub_opts_init(&o);
    o.flags = SHMIPC_PUBSUB_DYNAMIC;
    o.payload_size = 64;
    shmipc_publisher *pub;
    shmipc_subscriber *sub;
    assert_int_equal(shmipc_publisher_create(name, &o, &pub), 0);
    assert_int_equal(shmipc_subscriber_open(name, NULL, &sub), 0);
    assert_int_equal(shmipc_publisher_publish_copy(pub, NULL, 0), 1);
    shmipc_sample info;
    assert_int_equal(shmipc_subscriber_receive_copy(sub, NULL, 0, 1000, &info), 0);
    assert_int_equal(info.size, 0);
    assert_int_equal(shmipc_publisher_publish_copy(pub, "abc", 3), 1);
    assert_int_equal(shmipc_subscriber_receive_copy(sub, NULL, 0, 1000, &info), -EMSGSIZE);
    shmipc_subscriber_close(sub);
    shmipc_publisher_close(pub);
    shmipc_service_gc(SHMIPC_PATTERN_PUBSUB, name, 0, NULL); /* unlinks both segments */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_samples_with_null_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
