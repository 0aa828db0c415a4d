/* SPDX-License-Identifier: MIT */
/*
 * tests/test_review_queue.c - review findings in the queue layer: formatting a read-only segment is
 * refused with -EPERM instead of faulting on the first store.
 */
#include "helpers.h"
#include "queue/queue_internal.h"

static void format_readonly_segment_eperm(void **state)
{
    (void)state;
    char name[64];
    test_name(name, sizeof name, "rvqfmt");
    size_t need;
    assert_int_equal(shmipc_queue_memory_size(NULL, &need), 0);
    shmipc_segment *w, *ro;
    assert_int_equal(shmipc_segment_create(name, need, NULL, &w), 0);
    shmipc_segment_opts o;
    shmipc_segment_opts_init(&o);
    o.flags = SHMIPC_SEG_RDONLY;
    assert_int_equal(shmipc_segment_open(name, &o, &ro), 0);
    assert_int_equal(shmipc_queue_format(ro, NULL), -EPERM);
    assert_int_equal(shmipc_queue_format(w, NULL), 0);
    shmipc_segment_close(ro);
    shmipc_segment_close(w);
    shmipc_segment_unlink(name);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(format_readonly_segment_eperm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
